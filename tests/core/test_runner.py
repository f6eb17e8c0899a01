"""The run machinery: job kinds picked from a registry, DDP apart from the worker, the loop's step count."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from core import config, jobs
from core.ml import checkpoint, data, models, runner, train_state, trainer, worker
from tests.conftest import ROOT
from tests.core.train_helpers import ADMIN, sigterm_kept, tiny_config
from tests.test_architecture import imported_modules


def test_every_run_kind_has_its_job_runner():
    assert set(worker.JOB_KINDS) == set(config.RUN_KINDS)


def test_a_job_kind_registers_once(monkeypatch):
    monkeypatch.setattr(worker, "JOB_KINDS", {})

    def first(ws, job, hooks):
        return runner.DONE

    assert worker.job_kind("sweep")(first) is first
    with pytest.raises(ValueError, match="'sweep' is already registered"):
        worker.job_kind("sweep")(lambda ws, job, hooks: runner.DONE)
    assert worker.JOB_KINDS == {"sweep": first}


def test_run_job_runs_what_the_kind_registered(ws, monkeypatch):
    seen = []

    def stand_in(ws_, job, hooks):
        seen.append((job.kind, hooks.job_id))
        return runner.Outcome("cancelled", "stopped by the stand-in")

    monkeypatch.setitem(worker.JOB_KINDS, "quick", stand_in)
    job_id = jobs.submit(ws.conn, ADMIN, tiny_config(kind="quick"))
    with sigterm_kept():
        assert worker.run_job(ws, jobs.claim(ws.conn, job_id)) == "cancelled"
    job = jobs.get_job(ws.conn, job_id)
    assert seen == [("quick", job_id)] and (job.status, job.error) == ("cancelled", "stopped by the stand-in")


def test_ddp_reports_through_the_runner_not_the_worker():
    imported = imported_modules(ROOT / "core" / "ml" / "ddp.py")
    assert "core.ml.runner" in imported and "core.ml.worker" not in imported


@pytest.mark.parametrize("drop_last", [False, True])
def test_steps_per_epoch_is_what_a_data_loader_counts(drop_last):
    """The global batch is split over the ranks (the config wants it divisible); a DistributedSampler pads each
    rank to ceil(samples / world)."""
    for samples, batch, world in itertools.product((1, 7, 8, 42, 65), (4, 8, 12), (1, 2, 4)):
        dataset = list(range(samples))
        for rank in range(world):
            sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=False) if world > 1 else None
            loader = DataLoader(dataset, batch_size=batch // world, sampler=sampler, drop_last=drop_last)
            assert train_state.steps_per_epoch(samples, batch, world, drop_last) == len(loader), (
                samples,
                batch,
                world,
                rank,
            )


@pytest.mark.parametrize(
    ("world", "balance"), [(1, "none"), (1, "sampler"), (1, "weighted_loss"), (2, "none"), (2, "sampler")]
)
def test_the_trainer_takes_the_steps_it_counts(world, balance):
    cache = torch.zeros(42, 3, 4, 4, dtype=torch.uint8)
    dataset = data.CachedImages(cache, [i % 3 for i in range(42)])
    ctx = trainer.RunContext(
        tiny_config(batch_size=8, balance=balance),
        ("a", "b", "c"),
        [],
        [],
        Path("."),
        Path("."),
        rank=world - 1,
        world=world,
    )
    # one process: 42 photos, 8 a batch -> 6 steps; two: 21 photos a rank, 4 a batch -> 6 steps
    assert len(trainer._train_loader(ctx, dataset, 1)) == train_state.steps_per_epoch(42, 8, world) == 6


def test_checkpoint_write_describes_the_model_then_adds_extras(tmp_path):
    spec = models.build("tiny_cnn", 2, pretrained=False, image_size=32)
    checkpoint.write(
        tmp_path / checkpoint.BEST, spec, tiny_config(), ("ok", "bad"), 3, {"val_macro_f1": 0.5}, probe_c=0.25
    )
    saved = checkpoint.load(tmp_path / checkpoint.BEST)
    assert (saved["format_version"], saved["arch"], saved["class_names"], saved["epoch"]) == (
        checkpoint.FORMAT_VERSION,
        "tiny_cnn",
        ["ok", "bad"],
        3,
    )
    assert saved["config"] == tiny_config().to_dict() and saved["preprocess"] == spec.preprocess.to_dict()
    assert saved["metrics"] == {"val_macro_f1": 0.5} and saved["probe_c"] == 0.25
    assert saved["model"].keys() == spec.model.state_dict().keys()


def test_only_the_checkpoint_module_saves_checkpoints():
    """Trainer and quick model both go through checkpoint.write; nobody else calls save or torch.save."""
    writers, savers = set(), set()
    for path in sorted((ROOT / "core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                if name == "checkpoint.write":
                    writers.add(path.stem)
                elif name in ("torch.save", "checkpoint.save") and path.stem != "checkpoint":
                    savers.add(path.stem)
    assert writers == {"trainer", "embed"} and not savers, (writers, savers)
