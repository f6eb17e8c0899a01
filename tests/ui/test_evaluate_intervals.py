"""AppTest: the operating-point panel shows defect recall and false-alarm rate on validation and test with their
95% intervals and counts, and says when the defect photos are too few for the target, in English and Korean;
on the real `screws` crops at a target of 0.999 too."""

from __future__ import annotations

import pandas as pd
import pytest

from core import i18n, intervals, jobs, runs
from core.config import QUICK_IMAGE_SIZE, TrainConfig
from tests.conftest import SHARED_DATASETS
from tests.core.test_intervals import crafted
from tests.core.train_helpers import ADMIN, run_job_here
from tests.ui.test_evaluate_review_pages import open_page


def evaluate_in(lang: str):
    at = open_page("pages/evaluate.py")
    if lang != "en":
        at.radio(key="lang").set_value(lang).run()
    assert not at.exception, at.exception
    return at


def interval_table(at, lang: str) -> pd.DataFrame:
    measure = i18n.t("intervals.col.measure", lang)
    return next(d.value for d in at.dataframe if measure in d.value.columns)


def warnings(at) -> list[str]:
    return [w.value for w in at.warning]


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_each_rate_shows_its_interval_and_counts_and_the_target_too_few_photos_can_show(ws, lang):
    run, _ = crafted(ws)  # validation: 6 of 6 defects caught, 0 of 3 normals flagged; test: 3 of 4, 1 of 2
    at = evaluate_in(lang)
    table = interval_table(at, lang)
    t = lambda key, **v: i18n.t(key, lang, **v)  # noqa: E731
    rows = {(r[t("intervals.col.measure")], r[t("intervals.col.split")]): r for _, r in table.iterrows()}
    value, counts = t("intervals.col.value"), t("intervals.col.counts")
    recall, alarm, val, test = t("intervals.recall"), t("intervals.false_alarm"), t("split.val"), t("split.test")
    assert rows[(recall, val)][value] == "1.000 (0.541–1.000)"
    assert rows[(recall, val)][counts] == t("intervals.counts.recall", k=6, n=6)
    assert rows[(recall, test)][value] == "0.750 (0.194–0.994)"
    assert rows[(recall, test)][counts] == t("intervals.counts.recall", k=3, n=4)
    assert rows[(alarm, val)][value] == "0.000 (0.000–0.708)"
    assert rows[(alarm, test)][value] == "0.500 (0.013–0.987)"
    assert rows[(alarm, test)][counts] == t("intervals.counts.false_alarm", k=1, n=2)
    assert any(t("intervals.method.clopper-pearson") in c.value for c in at.caption)
    # the default target 0.99 needs 368 defect photos in a split: the panel says so, with each split's count
    shown = [w for w in warnings(at) if "368" in w]
    assert len(shown) == 1, warnings(at)
    expected = t("intervals.too_few", target="0.99", splits="{splits}", needed="368").split("{splits}")
    assert shown[0].startswith(expected[0]) and shown[0].endswith(expected[1])
    assert t("intervals.too_few.split", split=val, n=6, best="0.541")[1:] in shown[0]
    assert t("intervals.too_few.split", split=test, n=4, best="0.398")[1:] in shown[0]


def test_a_target_of_one_is_never_shown_and_a_cost_matrix_has_no_target(ws):
    run, _ = crafted(ws)
    at = evaluate_in("ko")
    at.slider(key=f"eval_target_{run.id}").set_value(1.0).run()
    assert i18n.t("intervals.never", "ko") in warnings(at)
    at.slider(key=f"eval_target_{run.id}").set_value(0.85).run()  # ln(0.025) / ln(0.85) = 22.7
    (shown,) = [w for w in warnings(at) if "최소 23장" in w]
    assert shown.startswith("결함 재현율 0.85을(를) 보이기에는 결함 사진이 너무 적습니다. 검증: 결함 사진 6장")
    at.toggle(key=f"eval_costs_on_{run.id}").set_value(True).run()
    assert not at.exception, at.exception
    too_few = i18n.t("intervals.too_few", "ko", target="X", splits="", needed="").split("X")[0]
    assert not [w for w in warnings(at) if w.startswith(too_few)], warnings(at)
    assert interval_table(at, "ko") is not None


@pytest.fixture
def screws(ws, monkeypatch):
    """The `screws` crops: the 184 test crops locked in test; of the 400 training crops, those of every 5th photo
    in validation (a photo's four crops stay together), the rest in train; a quick model trained here."""
    root = SHARED_DATASETS / "screws"
    if not (root / "train").is_dir() or not (root / "test").is_dir():
        pytest.skip("../shared/datasets/screws is not present")
    from core import ingest

    monkeypatch.setattr(jobs, "launch_worker", lambda *a, **k: None)
    assert ingest.import_paths(ws, ADMIN, [root / "test"], split="test").to_json()["imported"] == 184
    for label in ("normal", "missing"):
        crops = sorted((root / "train" / label).glob("*.jpg"))
        val = [p for p in crops if int(p.name.split("_")[0]) % 5 == 0]
        ingest.import_paths(ws, ADMIN, val, label=label, split="val")
        ingest.import_paths(ws, ADMIN, [p for p in crops if p not in val], label=label, split="train")
    config = TrainConfig(kind="quick", epochs=1, warmup_epochs=0, image_size=QUICK_IMAGE_SIZE, seed=0)
    job_id = jobs.submit(ws.conn, ADMIN, config)
    assert run_job_here(ws, job_id) == "done"
    return runs.run_for_job(ws.conn, job_id)


@pytest.mark.slow
def test_too_few_defect_photos_on_the_screws_data_at_0_999(ws, screws):
    """Acceptance 3: 0.999 needs 3,688 defect photos, all caught; screws has 80 missing crops in test."""
    from core import evaluation

    at = evaluate_in("en")
    at.slider(key=f"eval_target_{screws.id}").set_value(0.999).run()
    assert not at.exception, at.exception
    point = evaluation.operating_point(ws.conn, screws, target_recall=0.999)
    rates = intervals.point_rates(ws.conn, screws, point)
    val, test = rates.splits
    assert test.defect_recall.n == 80 and rates.needed == 3688 and rates.short == rates.splits
    print(f"\nscrews, quick model, target 0.999: validation {val.defect_recall}, test {test.defect_recall}")
    print(f"false alarms: validation {val.false_alarm_rate}, test {test.false_alarm_rate}")
    (shown,) = [w for w in warnings(at) if w.startswith("Too few defect photos to show a defect recall of 0.999.")]
    assert "at least 3,688 defect photos" in shown and "test: 80 defect photos, a lower bound of 0.955 at best" in shown
    at.radio(key="lang").set_value("ko").run()
    (shown,) = [w for w in warnings(at) if "3,688" in w]
    assert shown.startswith("결함 재현율 0.999을(를) 보이기에는 결함 사진이 너무 적습니다.")
    assert "테스트: 결함 사진 80장, 하한은 최대 0.955" in shown, shown
