"""AppTest: a photo unlike anything the model was trained on is never passed on Diagnose; the banner says CHECK
PHOTO and why (English and Korean), and the card shows its familiarity percentile (issue 17, the gate)."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import demo, runs
from core.ml import familiarity
from core.workspace import open_workspace
from tests.conftest import ROOT
from tests.core.train_helpers import ADMIN, promoted_tiny_run


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    with contextlib.closing(open_workspace(tmp_path_factory.mktemp("diagnose-unfamiliar") / "ws")) as ws:
        yield ws, promoted_tiny_run(ws)


def _keep_index(ws, run, val_distance: float) -> None:
    """The run's kept index with its own training photos and every validation distance set to `val_distance`:
    a photo that is not one of the training photos is then far past (tiny value) or well inside (large) the cut."""
    kept = familiarity.load_index(ws.layout.run_dir(run.id) / familiarity.FILE)
    assert kept is not None, "the training job built the index"
    out = io.BytesIO()
    spread = np.linspace(0.9, 1.1, 60, dtype=np.float32) * val_distance
    np.savez(out, train=kept.train.astype(np.float16), val=np.sort(spread))
    (ws.layout.run_dir(run.id) / familiarity.FILE).write_bytes(out.getvalue())


def _opened(ws, run, monkeypatch) -> AppTest:
    monkeypatch.setenv("BOLTSCOPE_WORKSPACE", str(ws.settings.workspace))
    point = runs.get_run(ws.conn, run.id).operating_point or {
        "target_recall": 0.95,
        "costs": None,
        "val_defect_recall": 1.0,
        "val_false_alarm_rate": 0.0,
    }
    runs.set_operating_point(ws.conn, ADMIN, run.id, {**point, "threshold": 0.0})  # the model alone would pass it
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/diagnose.py").run()
    photo = demo.render_crop(77, "normal").jpeg
    at.file_uploader(key="diag_files").set_value([("bolt.jpg", photo, "image/jpeg")]).run()
    assert not at.exception, at.exception
    return at


def _banner(at: AppTest) -> str:
    block = at.get_by_key("diag_banner_0")
    return next(n.value for n in block if getattr(n, "type", "") in ("success", "warning", "error", "info"))


@pytest.mark.slow
def test_an_unfamiliar_photo_is_check_photo_never_pass(production, monkeypatch):
    ws, run = production
    _keep_index(ws, run, 1e-4)  # every validation photo sat on a training photo: a new photo is far past the cut
    at = _opened(ws, run, monkeypatch)
    text = _banner(at)
    assert text.startswith("### CHECK PHOTO") and "unlike anything the model was trained on" in text, text
    assert any("Familiarity: 100.0" in c.value for c in at.caption), [c.value for c in at.caption]
    at.radio(key="lang").set_value("ko").run()
    assert _banner(at).startswith("### 사진 확인") and "닮지 않았습니다" in _banner(at)


@pytest.mark.slow
def test_a_familiar_photo_passes_as_before(production, monkeypatch):
    ws, run = production
    _keep_index(ws, run, 1.5)  # farther than any photo can be (cosine distances end at 2): everything familiar
    at = _opened(ws, run, monkeypatch)
    assert _banner(at).startswith("### PASS"), _banner(at)


@pytest.mark.slow
def test_an_unfamiliar_photo_is_sent_to_review_unlabelled(production, monkeypatch):
    from core import review, store

    ws, run = production
    _keep_index(ws, run, 1e-4)
    at = _opened(ws, run, monkeypatch)
    sent = [b for b in at.button if b.label == "Send to Review"]
    assert len(sent) == 1
    sent[0].click().run()
    assert not at.exception, at.exception
    shown = " ".join(s.value for s in at.success)
    assert "bolt.jpg is waiting in Review (photo #" in shown, shown
    image_id = int(shown.split("(photo #")[1].split(")")[0])
    assert store.get_image(ws.conn, image_id).label is None
    first = review.queue(ws.conn, run.id)[0]
    assert (first.image_id, first.reason, first.given) == (image_id, "unfamiliar", None)


@pytest.mark.slow
def test_a_familiar_photo_has_no_send_to_review(production, monkeypatch):
    ws, run = production
    _keep_index(ws, run, 1.5)
    at = _opened(ws, run, monkeypatch)
    assert not [b for b in at.button if b.label == "Send to Review"]
