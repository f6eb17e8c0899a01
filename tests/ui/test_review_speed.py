"""AppTest: a Review decision shows the next photo at once. Its heatmap is made ahead of time off the script
thread, and a photo whose heatmap is not ready yet is shown with a placeholder that fills in later."""

from __future__ import annotations

import threading
import time

import pytest

from core import jobs
from core.ml import explain
from tests.ui.test_review_decisions import card_id, misclassified_run, open_review

PENDING = "Preparing the heatmap…"


@pytest.fixture
def trained_queue(ws, monkeypatch):
    monkeypatch.setattr(jobs, "launch_worker", lambda *a, **k: None)
    return misclassified_run(ws, trained=True)


class Calls(list):
    """(thread name, photo path) of every Grad-CAM computation, recorded when it returns; `gate` holds them."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()


@pytest.fixture
def cam_calls(monkeypatch):
    calls = Calls()
    gate = calls.gate
    real = explain.cam_mask

    def spy(predictor, photo, *args, **kwargs):
        gate.wait(120)
        result = real(predictor, photo, *args, **kwargs)
        calls.append((threading.current_thread().name, str(photo)))
        return result

    monkeypatch.setattr(explain, "cam_mask", spy)
    yield calls
    gate.set()


def captions(at) -> list[str]:
    return [c.value for c in at.caption]


def image_captions(at) -> list[str]:
    return [caption for image in at.image for caption in image.captions]


def until(at, condition, seconds: float = 120):
    """Rerun the page until condition(at) holds (the heatmap is made in the background)."""
    deadline = time.monotonic() + seconds
    while not condition(at):
        assert time.monotonic() < deadline, "the heatmap never came"
        at.run()
    return at


@pytest.mark.slow
def test_a_decision_shows_the_next_photo_while_its_heatmap_is_still_being_made(ws, trained_queue, cam_calls):
    cam_calls.gate.clear()  # every heatmap takes as long as the test wants
    at = open_review(timeout=30)  # a page that waited for Grad-CAM would time out here
    first = card_id(at)
    assert PENDING in " ".join(captions(at))
    at.button(key="review_skip").click().run()
    assert not at.exception, at.exception
    assert card_id(at) != first  # the next photo is there ...
    assert len(at.image) >= 1 and PENDING in " ".join(captions(at))  # ... its heatmap not yet
    cam_calls.gate.set()
    until(at, lambda a: any(c.startswith("Grad-CAM for") for c in image_captions(a)))
    assert cam_calls and all(thread.startswith("review-heatmap") for thread, _ in cam_calls), cam_calls


@pytest.mark.slow
def test_the_next_heatmap_is_ready_before_the_decision(ws, trained_queue, cam_calls):
    at = open_review()
    first = card_id(at)
    until(at, lambda a: any(c.startswith("Grad-CAM for") for c in image_captions(a)))
    # the page asked for the next two photos' heatmaps too: wait until the worker has made three
    deadline = time.monotonic() + 120
    while len({path for _, path in cam_calls}) < 3:
        assert time.monotonic() < deadline, cam_calls
        time.sleep(0.05)
    made = len(cam_calls)
    started = time.perf_counter()
    at.button(key="review_confirm").click().run()
    took = time.perf_counter() - started
    assert not at.exception, at.exception
    assert card_id(at) != first
    assert any(c.startswith("Grad-CAM for") for c in image_captions(at)), "the heatmap is there at once"
    assert PENDING not in " ".join(captions(at))
    script_thread = [thread for thread, _ in cam_calls[made:] if not thread.startswith("review-heatmap")]
    assert not script_thread, "no Grad-CAM in the decision's own run"
    print(f"decision to next photo with its heatmap, AppTest rerun: {took:.3f} s")
