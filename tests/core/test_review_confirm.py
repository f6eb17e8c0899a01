"""review.decide: a defect photo turned normal needs an explicit confirmation; other decisions do not."""

from __future__ import annotations

import pytest

from core import evaluation, i18n, review, store
from core.errors import ValidationError
from tests.core.train_helpers import ADMIN, add_demo


@pytest.fixture
def photos(ws):
    add_demo(ws, 6)  # labels in turn: normal, broken, missing
    by_label: dict[str, int] = {}
    for image in store.all_images(ws.conn):
        by_label.setdefault(image.label, image.id)
    return by_label


def decisions(ws) -> list[tuple[int, str]]:
    return [tuple(r) for r in ws.conn.execute("SELECT image_id, decision FROM review_decisions ORDER BY id")]


def item(image_id: int, given: str, predicted: str) -> review.Item:
    return review.Item(image_id, "misclassified", given, predicted, 0.8, (0.9, 0.05, 0.05))


def test_defect_to_normal_is_refused_without_confirmation_and_records_nothing(ws, photos):
    broken = photos["broken"]
    events_before = store.history(ws.conn, broken)
    with pytest.raises(ValidationError) as refused:
        review.record_decision(ws.conn, ADMIN, item(broken, "broken", "normal"), "relabel", "normal")
    assert refused.value.key == "review.error.to_normal"
    assert refused.value.detail == {"id": broken, "old": "broken", "new": "normal"}
    assert store.get_image(ws.conn, broken).label == "broken"
    assert store.history(ws.conn, broken) == events_before
    assert decisions(ws) == []


def test_defect_to_normal_is_recorded_once_confirmed(ws, photos):
    missing = photos["missing"]
    review.record_decision(ws.conn, ADMIN, item(missing, "missing", "normal"), "relabel", "normal", confirmed=True)
    assert store.get_image(ws.conn, missing).label == "normal"
    last = store.history(ws.conn, missing)[-1]
    assert (last.old_label, last.new_label, last.source) == ("missing", "normal", "review")
    assert decisions(ws) == [(missing, "relabel")]


@pytest.mark.parametrize(("given", "new"), [("normal", "broken"), ("broken", "missing"), ("missing", "broken")])
def test_other_relabels_need_no_confirmation(ws, photos, given, new):
    review.record_decision(ws.conn, ADMIN, item(photos[given], given, new), "relabel", new)
    assert store.get_image(ws.conn, photos[given]).label == new


def test_needs_confirmation_names_the_normal_class_only():
    assert evaluation.NORMAL == "normal"
    assert review.needs_confirmation("broken", "normal") and review.needs_confirmation("rusty", "normal")
    assert not review.needs_confirmation("normal", "normal")
    assert not review.needs_confirmation(None, "normal")  # an unlabelled photo gets its first label
    assert not review.needs_confirmation("broken", "missing")


def test_confirm_records_the_given_label_as_checked(ws, photos):
    broken = photos["broken"]
    review.record_decision(ws.conn, ADMIN, item(broken, "broken", "normal"), "confirm")
    last = store.history(ws.conn, broken)[-1]
    assert (last.old_label, last.new_label, last.source) == ("broken", "broken", "review")
    assert decisions(ws) == [(broken, "confirm")]


def test_refusals_carry_translated_keys(ws, photos):
    with pytest.raises(ValidationError) as unknown:
        review.record_decision(ws.conn, ADMIN, item(photos["normal"], "normal", "broken"), "approve")
    assert unknown.value.key == "review.error.decision"
    for key in ("review.error.to_normal", "review.error.decision"):
        assert key in i18n.EN and key in i18n.KO
    text = i18n.t("review.error.to_normal", "ko", id=3, old="파손", new="정상")
    assert "파손" in text and "정상" in text and "{" not in text


@pytest.mark.parametrize("second", ["skip", "confirm", "relabel"])
def test_a_decided_photo_is_refused_and_left_as_it_was(ws, photos, second):
    """A key pressed while the page swaps cards reaches the previous photo's button: the photo already decided
    must not be decided again (here a relabel to missing would otherwise land on the photo just confirmed)."""
    broken = photos["broken"]
    review.record_decision(ws.conn, ADMIN, item(broken, "broken", "normal"), "confirm")
    events_before = store.history(ws.conn, broken)
    with pytest.raises(ValidationError) as refused:
        review.record_decision(ws.conn, ADMIN, item(broken, "broken", "normal"), second, "missing")
    assert refused.value.key == "review.error.decided"
    assert refused.value.detail["id"] == broken and refused.value.detail["user"] == ADMIN.name
    assert store.get_image(ws.conn, broken).label == "broken"
    assert store.history(ws.conn, broken) == events_before
    assert decisions(ws) == [(broken, "confirm")]
    text = i18n.t("review.error.decided", "ko", **refused.value.detail)
    assert f"#{broken}" in text and "{" not in text
