"""The training loop: train_one_epoch / evaluate / run_training, single process or DDP under torchrun.

run_training reports through a Hooks object (progress, stop requests, finished epochs), so the same
loop serves the worker (database rows), DDP rank 0 and the tests.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypedDict

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, WeightedRandomSampler

from core import metrics
from core.config import TrainConfig
from core.ml import checkpoint, data, kd, models, runtime, train_state, transforms
from core.runs import SnapshotItem

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """A stop was requested; the last finished epoch's checkpoint stays and can be resumed.
    `key`/`detail`: the message as a text key and its values, as core errors carry them."""

    def __init__(self, message: str = "", *, key: str | None = None, **detail: object) -> None:
        super().__init__(message)
        self.key = key
        self.detail = detail


class Hooks:
    """How a run reports back. The default does nothing, which is what a test often wants."""

    def progress(self, values: dict[str, object]) -> None:
        pass

    def should_stop(self) -> bool:
        return False

    def epoch_done(self, epoch: int, values: dict[str, float | int | None]) -> None:
        pass

    def resumed(self, epoch: int) -> None:
        """The run continues after this finished epoch (0: no epoch had finished, it starts again)."""


@dataclass
class RunContext:
    config: TrainConfig
    class_names: tuple[str, ...]
    items: list[SnapshotItem]
    image_paths: list[Path]
    run_dir: Path
    weights_dir: Path
    hooks: Hooks = field(default_factory=Hooks)
    teacher: torch.Tensor | None = None  # distillation: the teacher's log-probabilities, one row per item
    rank: int = 0
    world: int = 1
    local_rank: int = 0


@dataclass
class RunResult:
    best_epoch: int | None
    results: dict[str, dict[str, float]]
    predictions: list[tuple[int, str, str, list[float]]]
    checkpoint: str
    device: str
    weights: dict[str, object]
    steps_per_epoch: int
    cpu_ms: float | None = None


def _stop_requested(ctx: RunContext, device: torch.device) -> bool:
    wanted = ctx.rank == 0 and ctx.hooks.should_stop()
    if ctx.world == 1:
        return wanted
    flag = torch.tensor([1.0 if wanted else 0.0], device=device)
    dist.all_reduce(flag)  # every rank stops at the same step
    return bool(flag.item())


class Evaluation(TypedDict):
    loss: float
    accuracy: float
    macro_f1: float
    n: int
    probs: np.ndarray  # softmax probabilities, one row per photo in the loader's order
    targets: np.ndarray


def train_one_epoch(
    model: nn.Module, loader: Iterable, step: train_state.Step, device: torch.device, ctx: RunContext, epoch: int
) -> dict[str, float]:
    """One pass over the training data; raises Cancelled when a stop was requested."""
    model.train()
    total_loss, correct, seen, start = 0.0, 0, 0, time.perf_counter()
    predicted, truth = [], []
    steps = len(loader)
    for n, (images, targets) in enumerate(loader, start=1):
        if _stop_requested(ctx, device):
            raise Cancelled(
                f"stopped during epoch {epoch}, step {n}", key="train.error.stopped_epoch", epoch=epoch, step=n
            )
        outputs, loss, hard = _train_batch(model, images, targets, step, device, ctx.config)
        total_loss += loss.item() * len(images)
        guess = outputs.argmax(dim=1)
        correct += int((guess == hard).sum())
        predicted.append(guess.cpu())
        truth.append(hard.cpu())
        seen += len(images)
        elapsed = time.perf_counter() - start
        ctx.hooks.progress(
            {
                "phase": "train",
                "epoch": epoch,
                "epochs": ctx.config.epochs,
                "step": n,
                "steps": steps,
                "loss": total_loss / seen,
                "lr": step.optimizer.param_groups[0]["lr"],
                "images_per_s": seen * ctx.world / max(elapsed, 1e-9),
                "eta_s": elapsed / n * ((ctx.config.epochs - epoch) * steps + steps - n),
            }
        )
    seconds = time.perf_counter() - start
    f1 = (
        metrics.summary(torch.cat(truth).tolist(), torch.cat(predicted).tolist(), outputs.shape[1])["macro_f1"]
        if truth
        else 0.0
    )
    return {
        "train_loss": total_loss / max(seen, 1),
        "train_accuracy": correct / max(seen, 1),
        "train_macro_f1": f1,
        "seconds": seconds,
        "images_per_s": seen * ctx.world / max(seconds, 1e-9),
        "steps": steps,
    }


def _train_batch(
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    step: train_state.Step,
    device: torch.device,
    c: TrainConfig,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Forward, backward and an optimizer step on one batch: (outputs, loss, the hard targets)."""
    cuda = device.type == "cuda"
    images, targets = images.to(device, non_blocking=True), targets.to(device, non_blocking=True)
    if step.prep is not None:
        images = step.prep(images)
    if cuda and c.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    hard = kd.labels_of(targets)  # packed distillation targets carry the label in column 0
    if step.mix is not None:
        images, targets = step.mix(images, targets)
        hard = targets.argmax(dim=1)
    with torch.autocast(device_type=device.type, enabled=cuda and c.amp):
        outputs = model(images)
        loss = step.criterion(outputs, targets)
    step.optimizer.zero_grad(set_to_none=True)
    step.scaler.scale(loss).backward()
    step.scaler.step(step.optimizer)
    step.scaler.update()
    if step.when == "step":
        step.scheduler.step()
    return outputs, loss, hard


def evaluate(
    model: nn.Module,
    loader: Iterable,
    device: torch.device,
    criterion: nn.Module | None = None,
    num_classes: int = 2,
    prep: transforms.BatchPrep | None = None,
) -> Evaluation:
    """Loss, accuracy, macro-F1 and the softmax probabilities of every photo in the loader's order."""
    model.eval()
    probs, targets, total_loss = [], [], 0.0
    with torch.inference_mode():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            if prep is not None:
                images = prep(images)
            with torch.autocast(device_type=device.type, enabled=device.type == "cuda"):
                logits = model(images)
            if criterion is not None:
                total_loss += criterion(logits.float(), labels).item() * len(labels)
            probs.append(torch.softmax(logits.float(), dim=1).cpu())
            targets.append(labels.cpu())
    p = torch.cat(probs).numpy() if probs else np.zeros((0, num_classes), dtype=np.float32)
    t = torch.cat(targets).numpy() if targets else np.zeros(0, dtype=np.int64)
    summary = metrics.summary(t.tolist(), p.argmax(axis=1).tolist(), num_classes)
    return {"loss": total_loss / max(len(t), 1), **summary, "probs": p, "targets": t}


def _train_loader(ctx: RunContext, dataset: data.CachedImages, epoch: int) -> DataLoader:
    c = ctx.config
    per_rank = c.batch_size // ctx.world
    generator = torch.Generator().manual_seed(c.seed * 1000 + epoch)  # same order after a resume
    sampler = None
    if ctx.world > 1:
        sampler = DistributedSampler(dataset, num_replicas=ctx.world, rank=ctx.rank, shuffle=True, seed=c.seed)
        sampler.set_epoch(epoch)
    elif c.balance == "sampler":
        counts = Counter(dataset.labels.tolist())
        weights = [1.0 / counts[int(t)] for t in dataset.labels]
        sampler = WeightedRandomSampler(weights, len(weights), replacement=True, generator=generator)
    return data.loader(
        dataset,
        per_rank,
        shuffle=sampler is None,
        sampler=sampler,
        generator=generator,
        num_workers=c.num_workers,
        drop_last=False,
    )


def _on_device(cache: torch.Tensor, device: torch.device, c: TrainConfig) -> torch.Tensor:
    """The decoded cache moves to the GPU when it takes under a quarter of the free memory: batches are then
    gathered and augmented there, and no image crosses the PCIe bus after the first epoch."""
    if device.type != "cuda" or c.num_workers:
        return cache
    free, _total = torch.cuda.mem_get_info(device)
    return cache.to(device) if cache.nbytes * 2 < free // 4 else cache  # ×2: the split copies


def _set_frozen(spec: models.ModelSpec, frozen: bool) -> None:
    head = {id(p) for p in spec.head.parameters()}
    for p in spec.model.parameters():
        p.requires_grad_(not frozen or id(p) in head)


def run_training(ctx: RunContext) -> RunResult:
    """Train for config.epochs (or until early stopping) and predict every snapshot photo with the best epoch."""
    c = ctx.config
    device = runtime.pick_device(ctx.local_rank)
    torch.manual_seed(c.seed)
    spec = models.build(
        c.arch, len(ctx.class_names), pretrained=c.pretrained, image_size=c.image_size, weights_dir=ctx.weights_dir
    )
    log.info(
        "model %s on %s, %d px; pretrained: %s",
        c.arch,
        device,
        c.image_size,
        spec.weights.get("used") and spec.weights.get("path") or spec.weights.get("reason"),
    )
    cache = _decode(ctx)
    class_of = {name: i for i, name in enumerate(ctx.class_names)}
    targets = [class_of[it.label] for it in ctx.items]
    cache = _on_device(cache, device, c)
    loop = train_state.build_loop(ctx, spec, device, cache, targets)
    for epoch in range(loop.progress.epoch + 1, c.epochs + 1):
        torch.manual_seed(c.seed * 1000 + epoch)
        _set_frozen(spec, epoch <= c.freeze_epochs)
        values = train_one_epoch(loop.trained, _train_loader(ctx, loop.train_ds, epoch), loop.step, device, ctx, epoch)
        values["lr"] = loop.step.optimizer.param_groups[0]["lr"]
        if _end_epoch(loop, epoch, values):
            log.info("early stop after epoch %d: no better validation macro-F1 for %d epochs", epoch, c.early_stop)
            break
    if ctx.world > 1:
        dist.barrier()
    if ctx.rank != 0:
        return RunResult(loop.progress.best_epoch, {}, [], checkpoint.BEST, str(device), spec.weights, loop.steps)
    return _final(loop, cache, targets)


def _decode(ctx: RunContext) -> torch.Tensor:
    """Every snapshot photo decoded once into a uint8 cache, reported as the "decode" phase."""
    epochs = ctx.config.epochs
    ctx.hooks.progress({"phase": "decode", "epoch": 0, "epochs": epochs})
    return data.decode_all(
        ctx.image_paths,
        ctx.config.image_size,
        progress=lambda done, total: ctx.hooks.progress(
            {"phase": "decode", "step": done, "steps": total, "epoch": 0, "epochs": epochs}
        ),
    )


def _end_epoch(loop: train_state.Loop, epoch: int, values: dict[str, float]) -> bool:
    """Validate, keep the best, checkpoint and report; True when early stopping says stop.

    Every rank validates (the validation split is small), so each steps its schedule and counts its
    patience on the same figures as rank 0; only rank 0 writes files and reports.
    """
    ctx, progress, step = loop.ctx, loop.progress, loop.step
    ctx.hooks.progress({"phase": "validate", "epoch": epoch, "epochs": ctx.config.epochs})
    val = evaluate(
        loop.spec.model,
        loop.validation[0],
        loop.device,
        nn.CrossEntropyLoss(),
        len(ctx.class_names),
        loop.validation[1],
    )
    values.update(val_loss=val["loss"], val_accuracy=val["accuracy"], val_macro_f1=val["macro_f1"])
    key = (val["macro_f1"], -val["loss"])
    if key > progress.best_key:
        progress.best_key, progress.best_epoch, progress.since_best = key, epoch, 0
        if ctx.rank == 0:
            _write(loop, checkpoint.BEST, epoch, values)
    else:
        progress.since_best += 1
    stop = bool(ctx.config.early_stop) and progress.since_best >= ctx.config.early_stop
    if step.when == "epoch":
        step.scheduler.step()
    elif step.when == "metric":
        step.scheduler.step(values.get("val_macro_f1", 0.0))
    progress.epoch = epoch
    if ctx.rank == 0:
        _write(
            loop,
            checkpoint.LAST,
            epoch,
            values,
            optimizer=step.optimizer.state_dict(),
            scheduler=step.scheduler.state_dict(),
            scaler=step.scaler.state_dict(),
            state={**asdict(progress), "best_key": list(progress.best_key)},
        )
        ctx.hooks.epoch_done(epoch, values)
        log.info(
            "epoch %d/%d: loss %.4f, train acc %.3f, val acc %.3f, val macro-F1 %.3f, %.1f img/s",
            epoch,
            ctx.config.epochs,
            values["train_loss"],
            values["train_accuracy"],
            values["val_accuracy"],
            values["val_macro_f1"],
            values["images_per_s"],
        )
    if ctx.world > 1:  # rank 0 decides, in case float rounding on another device told a rank otherwise
        flag = torch.tensor([1.0 if stop else 0.0], device=loop.device)
        dist.broadcast(flag, src=0)
        stop = bool(flag.item())
    return stop


def _write(loop: train_state.Loop, name: str, epoch: int, values: dict[str, float], **extra: object) -> None:
    checkpoint.write(loop.ctx.run_dir / name, loop.spec, loop.ctx.config, loop.ctx.class_names, epoch, values, **extra)


def _final(loop: train_state.Loop, cache: torch.Tensor, targets: list[int]) -> RunResult:
    """Predict every snapshot photo with the best checkpoint; val and test figures come from these."""
    ctx, spec, n = loop.ctx, loop.spec, len(loop.ctx.class_names)
    ctx.hooks.progress({"phase": "predict", "epoch": loop.progress.epoch, "epochs": ctx.config.epochs})
    best = checkpoint.load(ctx.run_dir / checkpoint.BEST, map_location=loop.device)
    spec.model.load_state_dict(best["model"])
    out = evaluate(
        spec.model, data.loader(data.CachedImages(cache, targets), 64), loop.device, None, n, loop.validation[1]
    )
    predicted = out["probs"].argmax(axis=1)
    results = {}
    for split in ("val", "test"):
        rows = [i for i, it in enumerate(ctx.items) if it.split == split]
        if rows:
            results[split] = metrics.summary([targets[i] for i in rows], predicted[rows].tolist(), n)
    preds = [
        (it.image_id, it.split, ctx.class_names[int(predicted[i])], out["probs"][i].tolist())
        for i, it in enumerate(ctx.items)
    ]
    return RunResult(
        loop.progress.best_epoch,
        results,
        preds,
        checkpoint.BEST,
        str(loop.device),
        spec.weights,
        loop.steps,
        runtime.measure_cpu_ms(spec.model, spec.preprocess.size),
    )
