"""The training loop's typed state, built once per run from its config: optimizer, schedule, loss, AMP scaler,
datasets and the model on its device; resumed from last.pt when an earlier attempt left one."""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.utils.data import DataLoader

from core.config import TrainConfig
from core.ml import checkpoint, data, kd, models, transforms

if TYPE_CHECKING:
    from core.ml.trainer import RunContext

log = logging.getLogger(__name__)


OPTIMIZERS = {
    "sgd": lambda params, c: torch.optim.SGD(
        params, lr=c.lr, momentum=c.momentum, nesterov=c.nesterov and c.momentum > 0, weight_decay=c.weight_decay
    ),
    "adam": lambda params, c: torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay),
    "adamw": lambda params, c: torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay),
}


def _cosine(optimizer: torch.optim.Optimizer, c: TrainConfig, steps: int):
    warm, total = c.warmup_epochs * steps, max(1, c.epochs * steps)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor), "step"


SCHEDULERS = {  # name -> (optimizer, config, steps per epoch) -> (scheduler, when it steps)
    "cosine": _cosine,
    "step": lambda o, c, s: (torch.optim.lr_scheduler.StepLR(o, step_size=max(1, c.epochs // 3), gamma=0.1), "epoch"),
    "plateau": lambda o, c, s: (
        torch.optim.lr_scheduler.ReduceLROnPlateau(o, mode="max", factor=0.1, patience=2),
        "metric",
    ),
}


@dataclass
class Step:
    """How one batch trains: the loss, the optimizer, AMP's scaler and what runs around the forward pass."""

    criterion: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None  # saved in last.pt with the optimizer
    when: str = "epoch"  # when the scheduler steps: "step" (after each batch), "epoch" or "metric" (val macro-F1)
    mix: Callable | None = None  # MixUp/CutMix (transforms.batch_mix), on the device
    prep: transforms.BatchPrep | None = None  # turns each uint8 batch into the model's input on the device


def criterion(ctx: RunContext, targets: list[int], device: torch.device) -> nn.Module:
    """Cross-entropy, weighted by inverse class frequency for weighted_loss (and for the sampler under DDP)."""
    weight = None
    if ctx.config.balance == "weighted_loss" or (ctx.config.balance == "sampler" and ctx.world > 1):
        counts = Counter(targets)
        n = len(ctx.class_names)
        weight = torch.tensor([len(targets) / (n * max(counts.get(i, 0), 1)) for i in range(n)], device=device)
    return nn.CrossEntropyLoss(weight=weight, label_smoothing=ctx.config.label_smoothing)


def steps_per_epoch(samples: int, batch_size: int, world: int = 1, drop_last: bool = False) -> int:
    """Batches one rank takes in an epoch, as len() of its DataLoader counts them, without building one.

    batch_size is the global batch, split evenly over the `world` ranks as the trainer splits it; a
    DistributedSampler pads the samples to ceil(samples / world) per rank, a weighted sampler draws `samples`.
    """
    per_rank, batch = math.ceil(samples / world), batch_size // world
    return per_rank // batch if drop_last else math.ceil(per_rank / batch)


@dataclass
class Progress:
    """What changes from epoch to epoch and is saved in last.pt."""

    epoch: int = 0
    best_epoch: int | None = None
    best_key: tuple[float, float] = (-1.0, -math.inf)  # (val macro-F1, -val loss)
    since_best: int = 0


@dataclass
class Loop:
    """The training loop's state: built once by run_training, then read and advanced by every epoch."""

    ctx: RunContext
    spec: models.ModelSpec  # spec.model: the bare model, which validates and goes into checkpoints
    device: torch.device
    trained: nn.Module  # what trains: the DDP wrapper of spec.model under torchrun, else spec.model itself
    step: Step
    train_ds: data.CachedImages
    validation: tuple[DataLoader, transforms.BatchPrep]  # the val split and its (eval) batch preparation
    steps: int  # per epoch, on each rank
    progress: Progress = field(default_factory=Progress)


def restore_progress(loop: Loop) -> Progress:
    """The model, optimizer, scheduler, scaler and progress of last.pt, when an earlier attempt left one."""
    path = loop.ctx.run_dir / checkpoint.LAST
    if not path.exists():
        return Progress()
    saved = checkpoint.load(path, map_location=loop.device)
    loop.spec.model.load_state_dict(saved["model"])
    loop.step.optimizer.load_state_dict(saved["optimizer"])
    loop.step.scheduler.load_state_dict(saved["scheduler"])
    loop.step.scaler.load_state_dict(saved["scaler"])
    progress = Progress(**saved["state"])
    progress.best_key = tuple(progress.best_key)
    log.info("resumed from epoch %d (best so far: epoch %s)", progress.epoch, progress.best_epoch)
    loop.ctx.hooks.resumed(progress.epoch)
    return progress


def build_loop(
    ctx: RunContext, spec: models.ModelSpec, device: torch.device, cache: torch.Tensor, targets: list[int]
) -> Loop:
    """Datasets, model on the device (wrapped for DDP), optimizer, schedule, scaler, loss; resumed from last.pt."""
    c = ctx.config
    index = {s: [i for i, it in enumerate(ctx.items) if it.split == s] for s in ("train", "val")}
    train_targets = torch.as_tensor([targets[i] for i in index["train"]], dtype=torch.long)
    if ctx.teacher is not None:  # distillation: each photo's label and its teacher's softened probabilities
        train_targets = kd.pack(train_targets, ctx.teacher[index["train"]], c.kd_temperature)
    train_ds = data.CachedImages(cache[index["train"]], train_targets)
    train_prep = transforms.BatchPrep(c.augment, spec.preprocess)
    validation = (
        data.loader(data.CachedImages(cache[index["val"]], [targets[i] for i in index["val"]]), max(c.batch_size, 64)),
        transforms.BatchPrep(c.augment, spec.preprocess, train=False),
    )
    model = spec.model.to(device)
    if device.type == "cuda" and c.channels_last:
        model = model.to(memory_format=torch.channels_last)
    trained = model
    if ctx.world > 1:  # frozen warm-up epochs leave backbone parameters without gradients: tell DDP
        ids = [device.index] if device.type == "cuda" else None
        trained = nn.parallel.DistributedDataParallel(model, device_ids=ids, find_unused_parameters=c.freeze_epochs > 0)
    optimizer = OPTIMIZERS[c.optimizer](model.parameters(), c)
    steps = steps_per_epoch(len(train_ds), c.batch_size, ctx.world)
    scheduler, when = SCHEDULERS[c.scheduler](optimizer, c, steps)
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda" and c.amp)
    loss = criterion(ctx, train_ds.labels.tolist(), device)
    if ctx.teacher is not None:
        loss = kd.DistillationLoss(c.kd_temperature, c.kd_weight, loss)
    mix = None if ctx.teacher is not None else transforms.batch_mix(c.augment, len(ctx.class_names))
    step = Step(loss, optimizer, scaler, scheduler, when, mix, train_prep)
    loop = Loop(ctx, spec, device, trained, step, train_ds, validation, steps)
    loop.progress = restore_progress(loop)
    return loop
