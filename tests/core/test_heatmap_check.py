"""The heatmap check (issue 17, point 5): its arithmetic on synthetic masks, the figures kept with the run, and
`evaluate RUN --json` carrying them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import jobs, runs
from core.ml import heatmap_check
from tests.core.train_helpers import ADMIN, add_demo, cli_json, run_job_here, tiny_config


def test_a_uniform_map_puts_36_percent_in_the_central_box():
    assert heatmap_check.centre_share(np.ones((100, 100))) == pytest.approx(0.36)
    assert heatmap_check.centre_share(np.ones((256, 256))) == pytest.approx(0.36, abs=0.01)
    assert heatmap_check.centre_share(np.zeros((64, 64))) == pytest.approx(0.36)  # nothing shown: chance level


def test_a_centred_blob_scores_high_and_a_corner_blob_low():
    yy, xx = np.mgrid[0:128, 0:128]
    centred = np.exp(-((yy - 64) ** 2 + (xx - 64) ** 2) / (2 * 12.0**2))
    corner = np.exp(-((yy - 8) ** 2 + (xx - 8) ** 2) / (2 * 12.0**2))
    assert heatmap_check.centre_share(centred) > 0.95
    assert heatmap_check.centre_share(corner) < 0.05
    assert heatmap_check.centre_share(-centred) == pytest.approx(0.36)  # negative mass is no mass


def test_the_uniform_warning_sits_just_above_chance():
    assert heatmap_check.HeatmapCheck(0.36, 0.0, 46).uniform
    assert heatmap_check.HeatmapCheck(0.403, 0.0, 64).uniform  # the quick model on 64 screws crops
    assert heatmap_check.HeatmapCheck(0.45, 0.0, 64).uniform
    assert not heatmap_check.HeatmapCheck(0.46, 0.0, 64).uniform
    assert not heatmap_check.HeatmapCheck(0.6, 0.0, 46).uniform


def test_spread_takes_evenly_from_the_whole_list():
    items = list(range(200))
    picked = heatmap_check.spread(items, 64)  # type: ignore[arg-type]
    assert len(picked) == 64 and picked[0] == 0 and picked[-1] == 199
    assert heatmap_check.spread(items[:10], 64) == items[:10]  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from core.workspace import open_workspace

    ws = open_workspace(tmp_path_factory.mktemp("heatmap-check") / "ws")
    add_demo(ws, 45)
    job_id = jobs.submit(ws.conn, ADMIN, tiny_config(epochs=1))
    assert run_job_here(ws, job_id) == "done"
    yield ws, runs.run_for_job(ws.conn, job_id)
    ws.close()


@pytest.mark.slow
def test_the_check_is_measured_once_and_kept_with_the_run(tiny_run, monkeypatch):
    ws, run = tiny_run
    (ws.layout.run_dir(run.id) / heatmap_check.FILE).unlink(missing_ok=True)
    assert heatmap_check.stored(ws, run.id) is None
    check = heatmap_check.ensure(ws, run.id)
    val_test = [it for it in runs.snapshot(ws.conn, run.id) if it.split in ("val", "test")]
    assert check.photos == min(len(val_test), heatmap_check.MAX_PHOTOS) > 0
    assert 0.0 <= check.centre_share <= 1.0 and np.isfinite(check.road)
    kept = json.loads((ws.layout.run_dir(run.id) / heatmap_check.FILE).read_text())
    assert kept == check.to_json()

    def no_measuring(*_args, **_kwargs):
        raise AssertionError("measured again although the run keeps its figures")

    monkeypatch.setattr(heatmap_check, "measure_run", no_measuring)
    assert heatmap_check.ensure(ws, run.id) == check


@pytest.mark.slow
def test_an_unreadable_kept_file_is_measured_again(tiny_run):
    ws, run = tiny_run
    (ws.layout.run_dir(run.id) / heatmap_check.FILE).write_text("{not json")
    assert heatmap_check.stored(ws, run.id) is None
    assert heatmap_check.ensure(ws, run.id).photos > 0
    assert heatmap_check.stored(ws, run.id) is not None


@pytest.mark.slow
def test_evaluate_json_has_the_heatmap_check(tiny_run):
    ws, run = tiny_run
    out = cli_json(ws.settings.workspace, "evaluate", str(run.id), "--json")
    check = out["heatmap_check"]
    assert set(check) == {"centre_share", "road", "photos"}
    assert check == heatmap_check.stored(ws, run.id).to_json()
