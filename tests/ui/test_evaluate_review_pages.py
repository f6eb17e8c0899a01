"""AppTest: the Evaluate page (figures, operating point, promotion, comparison) and the Review queue."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import auth, evaluation, i18n, jobs, label_set, review, runs, store
from tests.conftest import ROOT
from tests.core.test_eval_promote import crafted_run, demo_test_split, safe_and_risky
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
    table = compare_tables(at)[0].value
    assert sorted(table["run"].tolist()) == sorted(trained.run_ids)
    assert {"GFLOPs", "CPU ms", "defect recall @ op", "pretrained"} <= set(table.columns)


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
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
    new = next(n for n in ("broken", "missing") if n != store.get_image(trained.conn, target.image_id).label)
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


# ---- issue 13: promotion refused on defect recall, classes absent from a split, the comparison table ----------


@pytest.fixture
def refused(ws, monkeypatch):
    """Production never calls a defect normal; the newest run has the higher macro-F1 but misses a broken bolt."""
    monkeypatch.setattr(jobs, "launch_worker", lambda *a, **k: None)
    safe, risky = safe_and_risky(ws)
    return ws, safe, risky


def test_a_refused_promotion_is_explained_in_korean_and_export_stays(refused):
    ws, safe, risky = refused
    at = open_page("pages/evaluate.py")
    at.radio(key="lang").set_value("ko").run()
    at.button(key="eval_promote").click().run()
    assert not at.exception, at.exception
    assert runs.production_run_id(ws.conn) == safe.id
    [error] = [e.value for e in at.error]
    override = i18n.t("eval.promote.force", "ko")
    assert at.checkbox(key=f"eval_force_{risky.id}").label == override
    assert "결함을 더 많이 놓칩니다" in error and "0.750" in error and "1.000" in error
    assert override in error and "--force" not in error and "misses" not in error
    assert any(s.value == "모델 내보내기" for s in at.subheader)  # the export section still renders
    assert [b for b in at.button if b.key == "eval_export_build"]

    at.checkbox(key=f"eval_force_{risky.id}").check().run()
    at.button(key="eval_promote").click().run()
    assert not at.exception, at.exception
    assert runs.production_run_id(ws.conn) == risky.id
    latest = runs.promotions(ws.conn)[0]
    assert latest["forced"] == 1 and latest["reason"].endswith("forced by the user")
    flash = " ".join(s.value for s in at.success)
    assert f"학습 #{risky.id}이(가) 운영 모델이 되었습니다." in flash and "0.750 대 1.000" in flash
    assert i18n.t("eval.promote.forced", "ko") in flash


def test_a_refused_promotion_in_english_names_the_checkbox_not_the_flag(refused):
    ws, safe, risky = refused
    at = open_page("pages/evaluate.py")
    at.button(key="eval_promote").click().run()
    [error] = [e.value for e in at.error]
    assert f"Run #{risky.id} misses more defects than production run #{safe.id}" in error
    assert "0.750, below 1.000" in error and i18n.t("eval.promote.force") in error and "--force" not in error
    assert any(s.value == "Export the model" for s in at.subheader)


def test_a_split_without_some_classes_says_which_and_scores_a_perfect_model_one(ws, monkeypatch):
    monkeypatch.setattr(jobs, "launch_worker", lambda *a, **k: None)
    demo_test_split(ws)
    test = [im.id for im in store.all_images(ws.conn) if im.split == "test"]
    store.relabel(ws.conn, ADMIN, [i for i in test if store.get_image(ws.conn, i).label != "normal"], "normal")
    crafted_run(ws, ["normal"] * len(test))  # a perfect model on a test split of normal photos only
    at = open_page("pages/evaluate.py")
    assert next(m.value for m in at.metric if m.label == "Macro-F1") == "1.000"
    names = {lab.name: lab for lab in label_set.list_labels(ws.conn)}
    [note] = [i.value for i in at.info if "No photos of" in i.value]
    assert (
        f"No photos of {names['broken'].display('en')}, {names['missing'].display('en')} in the test split" in note
        and note.endswith(f": {names['normal'].display('en')}.")
    )
    at.radio(key="lang").set_value("ko").run()
    assert any(names["missing"].display("ko") in i.value and "사진이 없습니다" in i.value for i in at.info)
    assert at.radio(key="eval_split_ko").value == "test"  # the split stays chosen, shown in Korean
    assert at.radio(key="eval_split_ko").options == ["테스트", "검증"]
    at.radio(key="eval_split_ko").set_value("val").run()  # validation holds every class: no note
    assert not [i for i in at.info if "사진이 없습니다" in i.value]
    at.radio(key="lang").set_value("en").run()
    assert at.radio(key="eval_split_en").value == "val"  # and the choice made in Korean carries back


COMPARE_EN = [
    "run",
    "defect recall @ op",
    "macro-F1",
    "CPU ms",
    "accuracy",
    "production",
    "backbone",
    "kind",
    "pretrained",
    "GFLOPs",
]
TRAINING_EN = ["run", "backbone", "params (M)", "px", "epochs", "train s", "photos/s"]


def compare_tables(at: AppTest) -> list:
    """The comparison's tables (the selection table, then how each run was trained); read-only tables have no
    element id to find them by."""
    return [d for d in at.dataframe if d.editing_mode == "read_only"][-2:]


def test_compare_puts_the_safety_columns_first_rounded_and_translated(refused):
    ws, safe, risky = refused
    at = open_page("pages/evaluate.py")
    at.session_state["eval_tab"] = "Compare runs"
    at.run()
    table, training = compare_tables(at)
    assert list(table.value.columns) == COMPARE_EN and list(training.value.columns) == TRAINING_EN
    formats = {
        name: column.get("type_config", {}).get("format") for name, column in json.loads(table.proto.columns).items()
    }
    assert {
        name: formats[name] for name in ("run", "defect recall @ op", "macro-F1", "CPU ms", "accuracy", "GFLOPs")
    } == {
        "run": "#%d",
        "defect recall @ op": "%.3f",
        "macro-F1": "%.3f",
        "CPU ms": "%.0f",
        "accuracy": "%.3f",
        "GFLOPs": "%.2f",
    }
    assert table.proto.placeholder == "—"  # a crafted run has no CPU latency: shown as "—", not "None"
    row = table.value[table.value["run"] == risky.id].iloc[0]
    assert row["defect recall @ op"] == 0.75 and pd.isna(row["CPU ms"])
    assert row["macro-F1"] == evaluation.summarize_run(ws.conn, risky.id)["macro_f1"]
    at.radio(key="lang").set_value("ko").run()
    at.session_state["eval_tab"] = "학습 비교"
    at.run()
    table, training = compare_tables(at)
    columns = list(table.value.columns) + list(training.value.columns)
    assert columns[:4] == ["학습", "운영점 결함 재현율", "macro-F1", "CPU ms"]
    english = set(COMPARE_EN + TRAINING_EN) - {"macro-F1", "CPU ms", "GFLOPs", "px"}  # product terms stay
    assert not set(columns) & english
