"""AppTest: the Evaluate page (figures, operating point, promotion, comparison) and the Review queue."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core import auth, jobs, review, runs, store
from tests.conftest import ROOT
from tests.core.train_helpers import ADMIN, add_demo, run_job_here, tiny_config


@pytest.fixture
def trained(ws, monkeypatch):
    monkeypatch.setattr(jobs, "launch_worker", lambda *a, **k: None)
    add_demo(ws, 45)
    ids = []
    for seed in (0, 1):
        job_id = jobs.submit(ws.conn, ADMIN, tiny_config(epochs=2, seed=seed))
        assert run_job_here(ws, job_id) == "done"
        ids.append(runs.run_for_job(ws.conn, job_id).id)
    ws.run_ids = ids
    return ws


def open_page(path: str, actor: auth.Actor | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if actor is not None:
        at.session_state["actor"] = actor
    at.run()
    at.switch_page(path).run()
    assert not at.exception, at.exception
    return at


def test_evaluate_shows_the_newest_run_and_its_figures(trained):
    at = open_page("pages/evaluate.py")
    labels = {m.label for m in at.metric}
    assert {"Accuracy", "Macro-F1", "Micro-F1", "Weighted F1", "Top-2 accuracy", "Threshold P(normal)"} <= labels
    newest = runs.get_run(trained.conn, trained.run_ids[-1])
    assert f"{newest.test_macro_f1:.3f}" == next(m.value for m in at.metric if m.label == "Macro-F1")
    assert any(s.value == "Safety operating point" for s in at.subheader)


def test_save_operating_point_and_promote(trained):
    at = open_page("pages/evaluate.py")
    at.button(key="eval_op_save").click().run()
    run = runs.get_run(trained.conn, trained.run_ids[-1])
    assert run.operating_point and run.operating_point["target_recall"] == pytest.approx(0.99)
    at.button(key="eval_promote").click().run()
    assert not at.exception, at.exception
    assert runs.production_run_id(trained.conn) == run.id
    assert any("This run is the production model." in s.value for s in at.success)


def test_compare_tab_lists_every_run(trained):
    at = open_page("pages/evaluate.py")
    at.session_state["eval_tab"] = "Compare runs"
    at.run()
    table = at.dataframe[-1].value
    assert sorted(table["#"].tolist()) == sorted(trained.run_ids)
    assert {"GFLOPs", "CPU ms / photo", "defect recall @ op", "pretrained"} <= set(table.columns)


def test_review_skip_and_relabel(trained):
    at = open_page("pages/review.py")
    before = review.queue(trained.conn, trained.run_ids[-1])  # the page starts on the newest run
    assert before, "a tiny model on a tiny set gets some photos wrong"
    first = before[0]
    at.button(key="review_skip").click().run()
    assert not at.exception, at.exception
    after = review.queue(trained.conn, trained.run_ids[-1])
    assert first.image_id not in {it.image_id for it in after}
    target = after[0]
    new = next(n for n in ("normal", "broken", "missing") if n != store.get_image(trained.conn, target.image_id).label)
    at.button(key=f"review_set_{new}").click().run()
    events = store.history(trained.conn, target.image_id)
    assert events[-1].new_label == new and events[-1].source == "review"


def test_cost_matrix_chooses_and_stores_the_point(trained):
    at = open_page("pages/evaluate.py")
    run_id = trained.run_ids[-1]
    at.toggle(key=f"eval_costs_on_{run_id}").set_value(True).run()
    assert not at.exception, at.exception
    at.button(key="eval_op_save").click().run()
    stored = runs.get_run(trained.conn, run_id).operating_point
    assert stored["costs"] is not None and stored["target_recall"] is None
    assert stored["costs"][1][0] == 50.0 and stored["costs"][0][1] == 1.0  # missed broken vs a false alarm


def test_export_builds_a_checked_onnx_and_offers_it(trained):
    at = open_page("pages/evaluate.py")
    at.radio(key="eval_export_fmt").set_value("onnx").run()
    at.button(key="eval_export_build").click().run()
    assert not at.exception, at.exception
    run_id = trained.run_ids[-1]
    path = trained.layout.exports / f"run-{run_id:06d}.onnx"
    assert path.stat().st_size > 1000 and (path.parent / (path.name + ".card.json")).exists()
    assert any(path.name in s.value and "matches PyTorch" in s.value for s in at.success)
    assert len(at.get("download_button")) == 2


def test_viewer_is_told_export_needs_a_role(trained):
    at = open_page("pages/evaluate.py", auth.Actor("vera", "viewer"))
    assert not [b for b in at.button if b.key == "eval_export_build"]
    assert any("Exporting a model needs the" in c.value for c in at.caption)
