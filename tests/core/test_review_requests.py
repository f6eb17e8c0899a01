"""Photos sent to Review (issue 17, the gate): an unfamiliar diagnosis joins the dataset unlabelled and waits first
in the Review queue with the model's answer and percentile; labelling it there takes it out; a familiar photo, a
viewer and "Label is right" on a photo without a label are refused; every request is audited."""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest

from core import audit, auth, demo, review, store
from core.errors import PermissionDenied, ValidationError
from core.ml import diagnosis, familiarity, predict
from core.workspace import open_workspace
from tests.core.train_helpers import ADMIN, promoted_tiny_run

VIEWER = auth.Actor("vera", "viewer")


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    with contextlib.closing(open_workspace(tmp_path_factory.mktemp("review-requests") / "ws")) as ws:
        run = promoted_tiny_run(ws)
        yield ws, run, predict.load_predictor(ws, run.id)


def diagnosed(ws, predictor, seed: int, unfamiliar: bool) -> diagnosis.Diagnosis:
    """A real diagnosis of a new demo photo, its familiarity set as the gate would have judged it."""
    found = diagnosis.diagnose(ws, predictor, f"bolt-{seed}.jpg", demo.render_crop(seed, "normal").jpeg)
    judged = familiarity.Familiarity(0.9, 99.7 if unfamiliar else 40.0, unfamiliar)
    return replace(found, result=replace(found.result, familiarity=judged))


def test_an_unfamiliar_photo_waits_first_in_review_without_a_label(production):
    ws, run, predictor = production
    found = diagnosed(ws, predictor, 901, unfamiliar=True)
    outcome = diagnosis.send_to_review(ws, ADMIN, found, run.id)
    assert outcome.status == "imported"
    image = store.get_image(ws.conn, outcome.image_id)
    assert image.label is None and image.source == "diagnose"
    first = review.queue(ws.conn, run.id)[0]
    assert (first.image_id, first.reason, first.given, first.predicted) == (
        image.id,
        "unfamiliar",
        None,
        found.result.top,
    )
    assert first.score == pytest.approx(0.997)
    entry = audit.query(ws.conn, actions=("review.request",))[0]
    assert entry.target == f"#{image.id}" and entry.details["percentile"] == pytest.approx(99.7)
    again = diagnosis.send_to_review(ws, ADMIN, found, run.id)  # the same photo: stored once, queued once
    assert again.status == "duplicate" and again.image_id == image.id
    assert [it.image_id for it in review.queue(ws.conn, run.id)].count(image.id) == 1

    with pytest.raises(ValidationError) as err:
        review.record_decision(ws.conn, ADMIN, first, "confirm")
    assert err.value.key == "review.error.confirm_unlabelled"
    review.record_decision(ws.conn, ADMIN, first, "relabel", "broken")
    assert store.get_image(ws.conn, image.id).label == "broken"
    assert image.id not in [it.image_id for it in review.queue(ws.conn, run.id)]


def test_a_familiar_photo_or_a_viewer_is_refused_and_nothing_is_stored(production):
    ws, run, predictor = production
    before = len(store.all_images(ws.conn))
    with pytest.raises(ValidationError) as err:
        diagnosis.send_to_review(ws, ADMIN, diagnosed(ws, predictor, 902, unfamiliar=False), run.id)
    assert err.value.key == "diagnose.error.familiar"
    with pytest.raises(PermissionDenied):
        diagnosis.send_to_review(ws, VIEWER, diagnosed(ws, predictor, 903, unfamiliar=True), run.id)
    with pytest.raises(ValidationError):
        review.request_review(ws.conn, ADMIN, store.all_images(ws.conn)[0].id, "because")
    assert len(store.all_images(ws.conn)) == before


def test_a_photo_sent_again_after_its_decision_waits_again(production):
    ws, run, predictor = production
    outcome = diagnosis.send_to_review(ws, ADMIN, diagnosed(ws, predictor, 904, unfamiliar=True), run.id)
    item = next(it for it in review.queue(ws.conn, run.id) if it.image_id == outcome.image_id)
    review.record_decision(ws.conn, ADMIN, item, "skip")
    assert outcome.image_id not in [it.image_id for it in review.queue(ws.conn, run.id)]
    review.request_review(ws.conn, ADMIN, outcome.image_id, "unfamiliar", run.id, 99.9, "normal")
    item = next(it for it in review.queue(ws.conn, run.id) if it.image_id == outcome.image_id)
    review.record_decision(ws.conn, ADMIN, item, "relabel", "normal")
    assert store.get_image(ws.conn, outcome.image_id).label == "normal"
