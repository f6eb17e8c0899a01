"""A training run: its frozen snapshot, held-out validation, checkpoints, resume, cancel, and the options."""

from __future__ import annotations

import hashlib
import math
from collections import Counter

import pytest
import torch

from core import runs, store
from core.errors import ValidationError
from core.ml import checkpoint, models, runner, trainer
from tests.core.train_helpers import ADMIN, add_demo, new_run, run_job_here, tiny_config

PAYLOAD_KEYS = {"format_version", "arch", "class_names", "config", "preprocess", "pooling", "epoch", "metrics", "model"}


class Recorder(trainer.Hooks):
    """Keeps every finished epoch; asks for a stop after stop_after = (epochs done, steps into the next)."""

    def __init__(self, stop_after: tuple[int, int] | None = None) -> None:
        self.epochs: list[tuple[int, dict]] = []
        self.steps_done = 0
        self.stop_after = stop_after

    def progress(self, values):
        if values.get("phase") == "train":
            self.steps_done = values["step"]

    def should_stop(self):
        return self.stop_after is not None and (len(self.epochs), self.steps_done) >= self.stop_after

    def epoch_done(self, epoch, values):
        self.epochs.append((epoch, dict(values)))
        self.steps_done = 0


@pytest.fixture
def demo_ws(ws):
    add_demo(ws, 60)  # the workspace assigns train/val/test
    return ws


def train(ws, run, hooks=None):
    return trainer.run_training(runner.context(ws, run, hooks or trainer.Hooks()))


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- snapshot --------------------------------------------------------------------------------


def test_snapshot_freezes_labels_and_splits(demo_ws):
    run = new_run(demo_ws, tiny_config())
    before = runs.snapshot(demo_ws.conn, run.id)
    assert len(before) == 60 and run.class_names == ("normal", "broken", "missing")
    photo = before[0]
    new_label = "missing" if photo.label != "missing" else "normal"
    store.relabel(demo_ws.conn, ADMIN, [photo.image_id], new_label)
    store.set_trashed(demo_ws.conn, ADMIN, [before[1].image_id], True)
    assert runs.snapshot(demo_ws.conn, run.id) == before
    assert runs.get_run(demo_ws.conn, run.id).config == tiny_config()
    _, now = runs.plan_snapshot(demo_ws.conn, tiny_config())  # a new run sees the change
    assert {it.image_id: it.label for it in now}[photo.image_id] == new_label and len(now) == 59


def test_snapshot_uses_the_workspace_splits_when_there_are_val_photos(demo_ws):
    items = runs.snapshot(demo_ws.conn, new_run(demo_ws, tiny_config()).id)
    by_id = {im.id: im.split for im in store.all_images(demo_ws.conn)}
    assert all(it.split == by_id[it.image_id] and not it.held_out for it in items)
    assert Counter(it.split for it in items) == Counter(by_id.values())


def test_held_out_validation_is_stratified_and_seeded(ws):
    add_demo(ws, 45, split="train")
    add_demo(ws, 9, split="test", start=45)
    classes, items = runs.plan_snapshot(ws.conn, tiny_config())
    assert classes == ("normal", "broken", "missing")
    held = [it for it in items if it.held_out]
    assert all(it.split == "val" for it in held)
    assert not any(it.held_out for it in items if it.split != "val")
    per_label = Counter(it.label for it in held)
    assert per_label == {"normal": 2, "broken": 2, "missing": 2}  # round(15 * 0.15) of each label's train photos
    assert Counter(it.split for it in items) == {"train": 39, "val": 6, "test": 9}
    assert runs.plan_snapshot(ws.conn, tiny_config())[1] == items
    other_seed = {it.image_id for it in runs.plan_snapshot(ws.conn, tiny_config(seed=7))[1] if it.held_out}
    assert other_seed != {it.image_id for it in held} and len(other_seed) == 6
    bigger = runs.plan_snapshot(ws.conn, tiny_config(val_fraction=0.4))[1]
    assert Counter(it.label for it in bigger if it.held_out) == {"normal": 6, "broken": 6, "missing": 6}
    run = new_run(ws, tiny_config())
    assert [(it.image_id, it.split, it.held_out) for it in runs.snapshot(ws.conn, run.id)] == [
        (it.image_id, it.split, it.held_out) for it in items
    ]


def test_each_label_with_two_train_photos_gets_a_val_photo(ws):
    add_demo(ws, 6, split="train")  # two of each label: 15% rounds to 0, yet each label gets one
    _, items = runs.plan_snapshot(ws.conn, tiny_config())
    assert Counter(it.label for it in items if it.held_out) == {"normal": 1, "broken": 1, "missing": 1}


def test_training_needs_two_labels(ws):
    add_demo(ws, 3, split="train")
    store.relabel(ws.conn, ADMIN, [im.id for im in store.all_images(ws.conn)], "broken")
    with pytest.raises(ValidationError, match="at least two labels.*found 1 \\(broken\\)"):
        runs.plan_snapshot(ws.conn, tiny_config())


# ---- training --------------------------------------------------------------------------------


def test_run_writes_self_describing_checkpoints(demo_ws):
    run = new_run(demo_ws, tiny_config(epochs=2))
    hooks = Recorder()
    result = train(demo_ws, run, hooks)
    run_dir = demo_ws.layout.run_dir(run.id)
    best = torch.load(run_dir / checkpoint.BEST, map_location="cpu", weights_only=True)
    last = torch.load(run_dir / checkpoint.LAST, map_location="cpu", weights_only=True)
    assert PAYLOAD_KEYS <= set(best) and PAYLOAD_KEYS | {"optimizer", "scheduler", "scaler", "state"} <= set(last)
    assert best["arch"] == "tiny_cnn" and best["class_names"] == ["normal", "broken", "missing"]
    assert best["config"] == tiny_config(epochs=2).to_dict() and best["epoch"] == result.best_epoch
    assert best["preprocess"]["size"] == 32 and last["epoch"] == 2 and best["pooling"] == "avg"
    assert result.checkpoint == checkpoint.BEST and result.steps_per_epoch == math.ceil(42 / 8)
    assert [e for e, _ in hooks.epochs] == [1, 2]
    for _, values in hooks.epochs:
        assert values["steps"] == 6 and 0 <= values["val_macro_f1"] <= 1 and math.isfinite(values["train_loss"])
        assert {"train_accuracy", "val_loss", "val_accuracy", "lr", "seconds", "images_per_s"} <= set(values)
    assert len(result.predictions) == 60
    assert set(result.results) == {"val", "test"} and result.results["test"]["n"] == 9


def test_worker_records_epochs_and_predictions(demo_ws):
    run = new_run(demo_ws, tiny_config(epochs=2, batch_size=16))
    assert run_job_here(demo_ws, run.job_id) == "done"
    stored = runs.epochs(demo_ws.conn, run.id)
    assert [(e.epoch, e.steps) for e in stored] == [(1, 3), (2, 3)]  # 42 train photos in batches of 16
    assert all(e.val_macro_f1 is not None and e.lr is not None for e in stored)
    assert all(0 <= e.train_macro_f1 <= 1 for e in stored)
    assert all(e.train_accuracy == 1 or e.train_macro_f1 < 1 for e in stored)  # F1 is 1 only when every photo is
    done = runs.get_run(demo_ws.conn, run.id)
    assert done.finished_at and done.best_epoch in (1, 2) and done.checkpoint.endswith("best.pt")
    preds = runs.predictions(demo_ws.conn, run.id)
    assert len(preds) == 60 and all(abs(sum(p["probs"]) - 1) < 1e-4 for p in preds)
    test = [p for p in preds if p["split"] == "test"]
    accuracy = sum(p["label"] == p["predicted"] for p in test) / len(test)
    assert done.test_accuracy == pytest.approx(accuracy)


def _final_model(ws, run):
    return torch.load(ws.layout.run_dir(run.id) / checkpoint.LAST, map_location="cpu", weights_only=True)


def test_resume_continues_as_if_never_stopped(demo_ws):
    straight = new_run(demo_ws, tiny_config(epochs=4))
    straight_result = train(demo_ws, straight)

    resumed = new_run(demo_ws, tiny_config(epochs=4))
    first = Recorder(stop_after=(2, 0))  # stop as the third epoch begins
    with pytest.raises(trainer.Cancelled, match="epoch 3, step 1"):
        train(demo_ws, resumed, first)
    assert [e for e, _ in first.epochs] == [1, 2]
    assert _final_model(demo_ws, resumed)["epoch"] == 2
    second = Recorder()
    result = train(demo_ws, resumed, second)
    assert [e for e, _ in second.epochs] == [3, 4]

    a, b = _final_model(demo_ws, straight), _final_model(demo_ws, resumed)
    assert b["epoch"] == 4
    for key, tensor in a["model"].items():
        assert torch.allclose(tensor.float(), b["model"][key].float(), atol=1e-5), key
    assert result.best_epoch == straight_result.best_epoch and result.results == straight_result.results
    for (ia, sa, la, pa), (ib, sb, lb, pb) in zip(straight_result.predictions, result.predictions, strict=True):
        assert (ia, sa, la) == (ib, sb, lb) and max(abs(x - y) for x, y in zip(pa, pb, strict=True)) < 1e-4


def test_stop_mid_epoch_keeps_the_last_checkpoint(demo_ws):
    run = new_run(demo_ws, tiny_config(epochs=3))
    last = demo_ws.layout.run_dir(run.id) / checkpoint.LAST
    seen = {}

    class Hooks(Recorder):
        def epoch_done(self, epoch, values):
            super().epoch_done(epoch, values)
            seen[epoch] = sha(last)

    with pytest.raises(trainer.Cancelled, match="epoch 2, step 3"):
        train(demo_ws, run, Hooks(stop_after=(1, 2)))
    assert list(seen) == [1] and sha(last) == seen[1]
    assert checkpoint.load(last)["epoch"] == 1 and (last.parent / checkpoint.BEST).exists()


OPTIONS = [
    {"augment": "strong"},
    {"augment": "strong", "balance": "weighted_loss", "label_smoothing": 0.1},
    {"augment": "photo", "balance": "sampler"},
    {"balance": "weighted_loss", "optimizer": "sgd"},
    {"optimizer": "adam", "scheduler": "step"},
    {"optimizer": "adamw", "scheduler": "plateau"},
    {"optimizer": "sgd", "scheduler": "cosine", "warmup_epochs": 1, "freeze_epochs": 1},
    {"augment": "none", "early_stop": 1},
]


@pytest.mark.parametrize("options", OPTIONS, ids=["-".join(f"{k}={v}" for k, v in o.items()) for o in OPTIONS])
def test_training_options_run(ws, options):
    add_demo(ws, 30)
    run = new_run(ws, tiny_config(epochs=1, **options))
    hooks = Recorder()
    result = train(ws, run, hooks)
    assert [e for e, _ in hooks.epochs] == [1]
    assert math.isfinite(hooks.epochs[0][1]["train_loss"]) and 0 <= hooks.epochs[0][1]["val_macro_f1"] <= 1
    assert result.best_epoch == 1 and len(result.predictions) == 30


def test_frozen_epochs_train_only_the_head(demo_ws):
    run = new_run(demo_ws, tiny_config(epochs=1, freeze_epochs=1, augment="none"))
    torch.manual_seed(0)
    train(demo_ws, run)
    trained = checkpoint.load(demo_ws.layout.run_dir(run.id) / checkpoint.LAST)["model"]
    torch.manual_seed(0)  # run_training seeds with config.seed (0) before building
    fresh = models.build("tiny_cnn", 3, pretrained=False, image_size=32).model.state_dict()
    assert torch.equal(trained["features.0.0.weight"], fresh["features.0.0.weight"])
    assert not torch.equal(trained["fc.weight"], fresh["fc.weight"])
