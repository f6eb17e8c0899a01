"""AppTest: Diagnose warns (English and Korean) when the production model's kept heatmap check says its
heatmaps are no better than a uniform map, and stays quiet when they point at the bolt; Evaluate shows the
figure as a metric, or says it is not measured yet."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from core.ml import heatmap_check
from core.workspace import open_workspace
from tests.conftest import ROOT
from tests.core.train_helpers import promoted_tiny_run


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    path = tmp_path_factory.mktemp("heatmap-warning") / "ws"
    ws = open_workspace(path)
    run = promoted_tiny_run(ws)
    yield ws, run
    ws.close()


def keep(ws, run, share: float) -> None:
    figures = {"centre_share": share, "road": 0.01, "photos": 46}
    (ws.layout.run_dir(run.id) / heatmap_check.FILE).write_text(json.dumps(figures))


def opened(ws, monkeypatch, page: str) -> AppTest:
    monkeypatch.setenv("BOLTSCOPE_WORKSPACE", str(ws.settings.workspace))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


@pytest.mark.slow
def test_diagnose_warns_in_both_languages_when_the_heatmaps_are_no_better_than_uniform(production, monkeypatch):
    ws, run = production
    keep(ws, run, 0.34)
    at = opened(ws, monkeypatch, "pages/diagnose.py")
    assert any("do not point at the bolt" in w and "34%" in w and "36%" in w for w in warnings(at)), warnings(at)
    at.radio(key="lang").set_value("ko").run()
    assert any("볼트를 가리키지 않습니다" in w and "34%" in w for w in warnings(at)), warnings(at)


@pytest.mark.slow
def test_diagnose_is_quiet_when_the_heatmaps_point_at_the_bolt(production, monkeypatch):
    ws, run = production
    keep(ws, run, 0.72)
    at = opened(ws, monkeypatch, "pages/diagnose.py")
    assert not any("do not point at the bolt" in w for w in warnings(at)), warnings(at)


@pytest.mark.slow
def test_evaluate_shows_the_figure_or_says_it_is_not_measured(production, monkeypatch):
    ws, run = production
    keep(ws, run, 0.34)
    at = opened(ws, monkeypatch, "pages/evaluate.py")
    shown = [m for m in at.metric if m.label == "Heatmap on the bolt"]
    assert shown and shown[0].value == "0.34", [m.label for m in at.metric]
    assert "46 validation and test photos" in shown[0].proto.help
    assert any("do not point at the bolt" in w for w in warnings(at))
    at.radio(key="lang").set_value("ko").run()
    assert any(m.label == "볼트를 가리키는 히트맵" for m in at.metric)
    (ws.layout.run_dir(run.id) / heatmap_check.FILE).unlink()
    at.radio(key="lang").set_value("en").run()
    assert any("not measured yet" in c.value for c in at.caption)


@pytest.mark.slow
def test_review_warns_under_the_heatmap_when_it_is_no_better_than_uniform(ws, monkeypatch):
    from core import jobs
    from tests.ui.test_review_decisions import misclassified_run, open_review
    from tests.ui.test_review_speed import image_captions, until

    monkeypatch.setattr(jobs, "launch_worker", lambda *a, **k: None)
    run = misclassified_run(ws, trained=True)
    keep(ws, run, 0.30)
    at = until(open_review(), lambda a: any(c.startswith("Grad-CAM for") for c in image_captions(a)))
    assert any("do not point at the bolt" in w and "30%" in w for w in warnings(at)), warnings(at)
    at.radio(key="lang").set_value("ko").run()
    until(at, lambda a: any("볼트를 가리키지 않습니다" in w for w in warnings(a)))
