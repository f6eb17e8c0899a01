"""AppTest: the Review card puts the given label first. "Label is right" (Enter) is the primary action, the model's
answer is one secondary label button among others keyed 1, 2, 3… in the label set's order, and turning a
defect photo normal asks for a confirmation before anything is recorded."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from core import auth, i18n, jobs, label_set, runs, store
from tests.conftest import ROOT
from tests.core.train_helpers import ADMIN, add_demo, new_run, run_job_here, tiny_config

# the test photos the model gets wrong, and how sure it is (the queue shows the surest first)
WRONG = {
    "broken": ("normal", [0.90, 0.06, 0.04]),
    "missing": ("broken", [0.10, 0.70, 0.20]),
    "normal": ("missing", [0.30, 0.10, 0.60]),
}


def misclassified_run(ws, trained: bool = False) -> runs.Run:
    """A finished run whose test predictions get one photo of each label wrong, as WRONG says: a broken photo
    predicted normal comes first. trained: a real tiny_cnn run (with a model) instead of a run record."""
    add_demo(ws, 24)
    add_demo(ws, 6, split="test", start=24)  # two of each label in test
    if trained:
        job_id = jobs.submit(ws.conn, ADMIN, tiny_config(epochs=1))
        assert run_job_here(ws, job_id) == "done"
        run = runs.run_for_job(ws.conn, job_id)
    else:
        run = new_run(ws, tiny_config())
    classes = list(run.class_names)
    assert classes == ["normal", "broken", "missing"]
    predictions, wrong = [], {}
    for snap in runs.snapshot(ws.conn, run.id):
        if snap.split != "test":
            continue
        predicted, probs = WRONG[snap.label] if snap.label not in wrong else (snap.label, None)
        if predicted != snap.label:
            wrong[snap.label] = snap.image_id
        probs = probs or [0.9 if c == snap.label else 0.05 for c in classes]
        predictions.append((snap.image_id, "test", predicted, probs))
    runs.finish_run(ws.conn, run.id, run.best_epoch or 1, {}, run.checkpoint, predictions)
    ws.wrong = wrong  # label -> the photo of that label the model got wrong
    return runs.get_run(ws.conn, run.id)


@pytest.fixture
def queue(ws, monkeypatch):
    monkeypatch.setattr(jobs, "launch_worker", lambda *a, **k: None)
    return misclassified_run(ws)


def open_review(actor: auth.Actor | None = None, timeout: float = 60) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    if actor is not None:
        at.session_state["actor"] = actor
    at.run()
    at.switch_page("pages/review.py").run()
    assert not at.exception, at.exception
    return at


def card_id(at: AppTest) -> int:
    """The id of the photo on the card (its heading reads '#### #<id> · <name>')."""
    found = [re.match(r"^#+ #(\d+) · ", m.value) for m in at.markdown]
    return next(int(m.group(1)) for m in found if m)


def keys(at: AppTest) -> dict[str, str]:
    """Keyboard shortcut -> the key of the button it presses."""
    return {b.proto.shortcut: b.key for b in at.button if b.proto.shortcut}


def by_shortcut(at: AppTest, shortcut: str):
    return next(b for b in at.button if b.proto.shortcut == shortcut)


def decisions(ws) -> list[tuple[int, str]]:
    return [tuple(r) for r in ws.conn.execute("SELECT image_id, decision FROM review_decisions ORDER BY id")]


def test_the_primary_action_and_key_1_are_not_the_models_answer(ws, queue):
    at = open_review()
    broken = ws.wrong["broken"]
    assert card_id(at) == broken  # labelled broken, the model says normal
    primary = [b for b in at.button if b.proto.type == "primary"]
    assert [b.key for b in primary] == ["review_confirm"]
    assert primary[0].label == "Label is right: broken" and primary[0].proto.shortcut == "enter"
    answer = at.button(key="review_set_normal")
    assert answer.proto.type == "secondary" and "model's answer" in answer.help
    by_shortcut(at, "1").click().run()  # key 1: the first label, normal, which is also the model's answer
    assert not at.exception, at.exception
    assert store.get_image(ws.conn, broken).label == "broken"
    assert decisions(ws) == []
    assert card_id(at) == broken


def test_defect_to_normal_asks_first_and_records_only_when_confirmed(ws, queue):
    at = open_review()
    broken = ws.wrong["broken"]
    events = len(store.history(ws.conn, broken))
    at.button(key="review_set_normal").click().run()
    question = " ".join(w.value for w in at.warning)
    assert f"Photo #{broken} is labelled **broken**. Relabel it **normal**?" in question
    assert not [b for b in at.button if b.key in ("review_confirm", "review_set_broken", "review_skip")]
    assert len(store.history(ws.conn, broken)) == events and decisions(ws) == []
    at.button(key="review_to_normal_yes").click().run()
    assert not at.exception, at.exception
    last = store.history(ws.conn, broken)[-1]
    assert (last.old_label, last.new_label, last.source) == ("broken", "normal", "review")
    assert decisions(ws) == [(broken, "relabel")]
    assert card_id(at) != broken


def test_cancelling_the_question_keeps_the_label(ws, queue):
    at = open_review()
    broken = ws.wrong["broken"]
    at.button(key="review_set_normal").click().run()
    cancel = at.button(key="review_to_normal_no")
    assert cancel.label == "Cancel, keep broken" and cancel.proto.shortcut == "escape"
    cancel.click().run()
    assert store.get_image(ws.conn, broken).label == "broken" and decisions(ws) == []
    assert card_id(at) == broken and "review_confirm" in keys(at).values()


def test_label_is_right_confirms_the_given_label_and_records_the_decision(ws, queue):
    at = open_review()
    broken = ws.wrong["broken"]
    by_shortcut(at, "enter").click().run()
    assert not at.exception, at.exception
    last = store.history(ws.conn, broken)[-1]
    assert (last.old_label, last.new_label, last.source) == ("broken", "broken", "review")
    assert decisions(ws) == [(broken, "confirm")]
    assert any(f"Photo #{broken}: label broken confirmed." in s.value for s in at.success)
    assert card_id(at) == ws.wrong["missing"]  # the queue moved on


def test_keys_follow_the_label_order_whatever_the_prediction(ws, queue):
    label_set.add_label(ws.conn, ADMIN, "rusty", "rusty", "녹")
    at = open_review()
    expected = {
        "enter": "review_confirm",
        "1": "review_set_normal",
        "2": "review_set_broken",
        "3": "review_set_missing",
        "4": "review_set_rusty",
        "s": "review_skip",
    }
    for label, predicted in (("broken", "normal"), ("missing", "broken"), ("normal", "missing")):
        assert card_id(at) == ws.wrong[label]
        assert keys(at) == expected, f"photo labelled {label}, predicted {predicted}"
        assert at.button(key=f"review_set_{label}").disabled  # the label it has now
        assert not at.button(key=f"review_set_{predicted}").disabled
        assert "1: normal · 2: broken · 3: missing · 4: rusty" in " ".join(c.value for c in at.caption)
        by_shortcut(at, "s").click().run()
    assert decisions(ws) == [(ws.wrong[k], "skip") for k in ("broken", "missing", "normal")]


def test_a_relabel_between_defects_needs_no_question(ws, queue):
    at = open_review()
    at.button(key="review_skip").click().run()
    missing = ws.wrong["missing"]
    assert card_id(at) == missing
    by_shortcut(at, "2").click().run()  # missing -> broken: the model's answer, a defect either way
    assert store.get_image(ws.conn, missing).label == "broken"
    assert decisions(ws)[-1] == (missing, "relabel")


def test_the_question_in_korean(ws, queue):
    at = open_review()
    at.radio(key="lang").set_value("ko").run()
    assert at.button(key="review_confirm").label == "라벨이 맞음: 파손"
    at.button(key="review_set_normal").click().run()
    question = " ".join(w.value for w in at.warning)
    assert f"사진 #{ws.wrong['broken']}의 라벨은 **파손**입니다. **정상**(으)로 바꿀까요?" in question
    assert at.button(key="review_to_normal_yes").label == "예, 정상(으)로 라벨"
    assert at.button(key="review_to_normal_no").label == "취소, 파손 유지"
    texts = [b.label for b in at.button] + [c.value for c in at.caption] + [m.value for m in at.markdown]
    assert not [t for t in texts if t in i18n.EN or t.startswith("review.")], "raw keys on the page"
    assert decisions(ws) == []
