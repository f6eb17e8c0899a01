"""DistributedDataParallel on the CPU (gloo): `train --nproc 2` runs under torchrun and reports like one process."""

from __future__ import annotations

import itertools

import pytest
import torch

from core import jobs, runs
from core.ml import checkpoint, runner, trainer
from core.workspace import open_workspace
from tests.core.train_helpers import ADMIN, add_demo, cli_json, new_run, run_job_here, tiny_config


@pytest.fixture
def demo_path(ws):
    add_demo(ws, 60)
    ws.close()  # the CLI and its torchrun ranks have the workspace to themselves
    return ws.settings.workspace


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_two_processes_take_the_steps_of_one(demo_path):
    out = cli_json(
        demo_path,
        "train",
        "--arch",
        "tiny_cnn",
        "--epochs",
        "2",
        "--image-size",
        "32",
        "--batch-size",
        "8",
        "--nproc",
        "2",
        "--wait",
        timeout=300,
    )
    assert out["status"] == "done", out
    assert out["best_epoch"] in (1, 2) and 0 <= out["test"]["macro_f1"] <= 1
    ws = open_workspace(demo_path)
    try:
        run = runs.get_run(ws.conn, out["run_id"])
        assert run.config.nproc == 2
        ddp_epochs = runs.epochs(ws.conn, run.id)
        assert [e.epoch for e in ddp_epochs] == [1, 2]
        assert len(runs.predictions(ws.conn, run.id)) == 60
        log = ws.layout.job_log(out["job_id"]).read_text()
        assert "DistributedDataParallel: 2 processes" in log and "steps per epoch: 6 (2 processes)" in log
        best = torch.load(ws.settings.workspace / run.checkpoint, map_location="cpu", weights_only=True)
        assert best["format_version"] == checkpoint.FORMAT_VERSION and best["epoch"] == run.best_epoch
        assert not any(k.startswith("module.") for k in best["model"])  # the bare model, not the DDP wrapper

        single = jobs.submit(ws.conn, ADMIN, tiny_config(epochs=2, batch_size=8, nproc=1))
        assert run_job_here(ws, single) == "done"
        one_epochs = runs.epochs(ws.conn, runs.run_for_job(ws.conn, single).id)
        # the batch size is global: 8 = 2 ranks x 4, so both take ceil(42 / 8) steps an epoch
        assert [e.steps for e in ddp_epochs] == [e.steps for e in one_epochs] == [6, 6]
    finally:
        ws.close()


class LearningRates(trainer.Hooks):
    def __init__(self) -> None:
        self.by_epoch: dict[int, float] = {}

    def progress(self, values):
        if values.get("phase") == "train":
            self.by_epoch[values["epoch"]] = values["lr"]


def test_plateau_scheduler_steps_alike_on_every_rank(ws, monkeypatch):
    add_demo(ws, 30)
    real, calls = trainer.evaluate, itertools.count(1)

    def improving(*args, **kwargs):  # rank 0 sees a better validation macro-F1 every epoch: no plateau
        out = real(*args, **kwargs)
        out["macro_f1"] = next(calls) / 100
        return out

    monkeypatch.setattr(trainer, "evaluate", improving)
    rates = {}
    for rank in (0, 1):  # rank 1 runs the code path of a non-zero DDP rank (no process group needed with world 1)
        run, hooks = new_run(ws, tiny_config(epochs=5, scheduler="plateau")), LearningRates()
        trainer.run_training(runner.context(ws, run, hooks, rank=rank, world=1, local_rank=0))
        rates[rank] = hooks.by_epoch
    assert rates[0] == dict.fromkeys(range(1, 6), 1e-3)
    assert rates[1] == rates[0]
