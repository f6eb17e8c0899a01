"""AppTest: the Diagnose page without a production model explains how to get one; with one, each photo gets a
PASS / DEFECT / CHECK PHOTO banner, the operating point marks the P(normal) bar only, the time names what it
measured, the save form makes the user choose a label, and the Korean table holds no English of ours."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import io
import json
import os
import re
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core import demo, i18n, runs
from core.workspace import open_workspace
from tests.conftest import ROOT
from tests.core.train_helpers import ADMIN, promoted_tiny_run


def test_no_production_model_says_how_to_get_one(ws):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/diagnose.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Diagnose"
    assert any("no production model yet" in i.value and "Quick model" in i.value for i in at.info)
    at.radio(key="lang").set_value("ko").run()
    assert any("운영 모델이 없습니다" in i.value for i in at.info)


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    """One workspace with a promoted tiny model for the module (training it takes a while)."""
    path = tmp_path_factory.mktemp("diagnose") / "ws"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BOLTSCOPE_WORKSPACE", str(path))
        ws = open_workspace(path)
        run = promoted_tiny_run(ws)
        yield ws, run
        ws.close()


@pytest.fixture
def page(production, monkeypatch):
    ws, run = production
    monkeypatch.setenv("BOLTSCOPE_WORKSPACE", str(ws.settings.workspace))

    def open_with(threshold: float, photos: list[tuple[str, bytes]]) -> AppTest:
        """The page at an operating point set by hand (0: every photo passes, 1: none does), photos dropped."""
        runs.set_operating_point(
            ws.conn,
            ADMIN,
            run.id,
            {
                **(
                    runs.get_run(ws.conn, run.id).operating_point
                    or {"target_recall": 0.95, "costs": None, "val_defect_recall": 1.0, "val_false_alarm_rate": 0.0}
                ),
                "threshold": threshold,
            },
        )
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.run()
        at.switch_page("pages/diagnose.py").run()
        at.file_uploader(key="diag_files").set_value([(n, d, "image/jpeg") for n, d in photos]).run()
        assert not at.exception, at.exception
        return at

    return open_with


def bolt(seed: int) -> bytes:
    return demo.render_crop(seed, "normal").jpeg


def dark() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (48, 48), (4, 4, 4)).save(out, "JPEG")  # too small, too dark and blurred
    return out.getvalue()


def key_of(data: bytes) -> str:
    return f"diag_save_{hashlib.sha256(data).hexdigest()[:16]}"


ALERTS = ("success", "info", "warning", "error")


def alerts(block) -> list:
    return [node for node in block if getattr(node, "type", "") in ALERTS]


def banner(at: AppTest, index: int) -> str:
    return alerts(at.get_by_key(f"diag_banner_{index}"))[0].value


@pytest.mark.slow
def test_banner_says_pass_defect_or_check_photo_in_both_languages(page):
    at = page(0.0, [("a.jpg", bolt(101)), ("dark.jpg", dark())])
    assert banner(at, 0).startswith("### PASS") and "operating point 0.000" in banner(at, 0)
    assert banner(at, 1).startswith("### CHECK PHOTO") and "too dark" in banner(at, 1)
    at.radio(key="lang").set_value("ko").run()
    assert banner(at, 0).startswith("### 합격") and banner(at, 1).startswith("### 사진 확인")
    at = page(1.0, [("a.jpg", bolt(101))])
    assert banner(at, 0).startswith("### DEFECT") and "< operating point 1.000" in banner(at, 0)
    at.radio(key="lang").set_value("ko").run()
    assert banner(at, 0).startswith("### 불량")


@pytest.mark.slow
def test_operating_point_line_is_on_the_normal_bar_only_and_the_time_names_its_span(page):
    at = page(0.5, [("a.jpg", bolt(102))])
    spec = json.loads(at.get_by_key("diag_card_0").get("plotly_chart")[0].proto.spec)
    classes = spec["data"][0]["y"]
    shapes = spec["layout"]["shapes"]
    assert len(shapes) == 1, shapes
    line = shapes[0]
    assert line["x0"] == line["x1"] == 0.5 and line.get("yref", "y") == "y"
    normal = classes.index("normal")
    assert normal - 0.5 < line["y0"] < normal < line["y1"] < normal + 0.5  # within the normal bar's band
    assert any(re.fullmatch(r"Model \+ Grad-CAM: \d+ ms per photo", c.value) for c in at.caption)
    at.radio(key="lang").set_value("ko").run()
    assert any(re.fullmatch(r"모델 \+ Grad-CAM: 사진당 \d+ ms", c.value) for c in at.caption)


@pytest.mark.slow
def test_save_form_has_no_default_label_warns_on_an_unfit_photo_and_confirms_beside_the_button(page):
    photo = dark()
    at = page(0.5, [("dark.jpg", photo)])
    card = at.get_by_key("diag_card_0")
    label = next(n for n in card if getattr(n, "type", "") == "radio")
    save = next(n for n in card if getattr(n, "type", "") == "button" and n.label == "Add to the dataset")
    assert label.value is None, f"{label.value!r} is chosen for the user"
    assert save.disabled, "the save button works before a label is chosen"
    assert any("flagged unfit" in w.value for w in alerts(card))
    key = key_of(photo)
    at.radio(key=f"{key}_label_en").set_value("broken").run()
    assert not at.button(key=key).disabled
    at.button(key=key).click().run()
    assert not at.exception, at.exception
    nodes = list(at.get_by_key("diag_card_0"))
    done = [
        i for i, n in enumerate(nodes) if getattr(n, "type", "") == "success" and "added to the dataset as" in n.value
    ]
    button = next(i for i, n in enumerate(nodes) if getattr(n, "key", None) == key)
    assert done and done[0] > button, "the confirmation is shown in the card, under the save button"
    assert not any("added to the dataset" in s.value for s in at.success if s not in nodes)  # not at the top


@pytest.mark.slow
def test_korean_results_table_has_no_english_of_ours(page):
    at = page(0.5, [("a.jpg", bolt(103)), ("dark.jpg", dark())])
    english = at.dataframe[0].value
    at.radio(key="lang").set_value("ko").run()
    korean = at.dataframe[0].value
    assert not set(korean.columns) & set(english.columns), list(korean.columns)
    files, proper = set(english.iloc[:, 0]), {"Grad", "CAM", "ms", "px", "P"}  # file names, method, units
    ours = set(re.findall(r"[A-Za-z]+", " ".join(map(str, [*english.columns, *english.to_numpy().ravel()]))))
    ours -= proper | {w for f in files for w in re.findall(r"[A-Za-z]+", f)}
    shown = " ".join(map(str, [*korean.columns, *korean.iloc[:, 1:].to_numpy().ravel()]))
    assert not set(re.findall(r"[A-Za-z]+", shown)) & ours, shown
    assert i18n.t("diagnose.verdict.check", "ko") in korean.to_numpy().ravel()


@pytest.mark.slow
def test_a_photo_on_the_page_is_blended_once(page, monkeypatch):
    """The page's heatmap: diagnose() returns the mask and the page's style is blended once (it was blended
    twice: inside diagnose at the default style, thrown away, then again in the page's style)."""
    from core.ml import explain

    blends = []
    real = explain.overlay
    monkeypatch.setattr(explain, "overlay", lambda *args, **kwargs: blends.append(1) or real(*args, **kwargs))
    at = page(0.5, [("once.jpg", bolt(104))])  # a photo no other test drops: not in the page's cache
    assert len(blends) == 1, f"{len(blends)} blends for one photo"
    pngs = [b for b in at.get_by_key("diag_card_0") if getattr(b, "type", "") == "download_button"]
    assert pngs, "the card with its overlay download is shown"


def open_database_files(workspace: Path) -> int:
    """How many of this process's file descriptors point at the workspace's database (file, -wal, -shm)."""
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # a descriptor closed while we look
            found += os.readlink(f"/proc/self/fd/{fd}").startswith(str(workspace / "boltscope.db"))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open files through /proc")
def test_the_model_cache_leaves_no_connection_open_per_model(production):
    """Every model the cache loads used to keep the connection it was loaded through open until the garbage
    collector found it (it sits in a reference cycle): one more open database file per model. It is closed as
    soon as the model is loaded; with the collector off, loading six models leaves none open."""
    from ui import components as ui

    ws, run = production
    root = ws.settings.workspace
    before = open_database_files(root)
    gc.disable()
    try:
        loaded = [ui._predictor(str(root), run.id, f"test-{n}") for n in range(6)]  # six loads (the cache keeps four)
        assert len({id(p) for p in loaded}) == 6 and all(p.run.id == run.id for p in loaded)
        # SQLite may hold a closed connection's descriptor while another connection of the process has a lock
        # on the file (closing it would drop that lock) and reuses it for the next one: one at most, not six
        assert open_database_files(root) <= before + 1, "a connection per cached model is left open"
    finally:
        gc.enable()
        ui._predictor.clear()
