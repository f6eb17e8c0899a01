"""Checkpoints that describe themselves, written atomically, read back with weights_only=True."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NotRequired, TypedDict

import torch

from core.errors import StorageError, ValidationError
from core.files import write_atomic

if TYPE_CHECKING:
    from core.config import TrainConfig
    from core.ml.models import ModelSpec

FORMAT_VERSION = 1
LAST = "last.pt"  # every epoch: model, optimizer, scheduler and scaler, to resume from
BEST = "best.pt"  # the best epoch by validation macro-F1: model and what it needs to be used


class Payload(TypedDict):
    """What a checkpoint holds (plain tensors and types: torch.load with weights_only=True reads it back)."""

    format_version: int
    arch: str
    class_names: list[str]
    config: dict[str, object]  # TrainConfig.to_dict()
    preprocess: dict[str, object]  # Preprocess.to_dict(): size, mean, std
    pooling: str
    epoch: int
    metrics: dict[str, object]
    model: dict[str, torch.Tensor]
    optimizer: NotRequired[dict[str, object]]  # last.pt: what a resumed run continues from
    scheduler: NotRequired[dict[str, object]]
    scaler: NotRequired[dict[str, object]]
    state: NotRequired[dict[str, object]]  # train_state.Progress
    probe_c: NotRequired[float]  # the quick model's regularisation
    temperature: NotRequired[float]  # best.pt of a finished run: the logits' divisor fitted on validation


def save(path: Path, payload: dict[str, object]) -> None:
    """torch.save into memory, then temp file + fsync + rename: a reader sees the old file or the new one."""
    buffer = io.BytesIO()
    torch.save({"format_version": FORMAT_VERSION, **payload}, buffer)
    write_atomic(path, buffer.getvalue())


def write(
    path: Path,
    spec: ModelSpec,
    config: TrainConfig,
    class_names: Sequence[str],
    epoch: int,
    metrics: dict[str, object],
    **extra: object,
) -> None:
    """The one writer of our checkpoints (trainer and quick model): what describes the model, its weights on
    the CPU, then `extra` (last.pt's optimizer, scheduler, scaler and loop state; the quick model's probe C)."""
    save(
        path,
        {
            "arch": config.arch,
            "class_names": list(class_names),
            "config": config.to_dict(),
            "preprocess": spec.preprocess.to_dict(),
            "pooling": spec.pooling,
            "epoch": epoch,
            "metrics": metrics,
            "model": {k: v.detach().cpu() for k, v in spec.model.state_dict().items()},
            **extra,
        },
    )


def set_temperature(path: Path, temperature: float) -> None:
    """Keep a finished run's temperature in its best.pt (rewritten atomically): whoever loads the model folds it."""
    saved = load(path)
    save(path, {**{k: v for k, v in saved.items() if k != "format_version"}, "temperature": float(temperature)})


def load(path: Path, map_location: str | torch.device = "cpu") -> Payload:
    """Read a checkpoint (plain tensors and types only) and check it is one of ours."""
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError as exc:
        raise StorageError(f"checkpoint {path} is missing") from exc
    except Exception as exc:  # unpickling refused or a torn file: name the file and the cause
        raise StorageError(f"checkpoint {path.name} cannot be read: {type(exc).__name__}: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise ValidationError(f"{path.name} is not a boltscope checkpoint (format {FORMAT_VERSION})")
    return payload
