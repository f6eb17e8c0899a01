"""Settings from the environment and the CLI: where the workspace is and the limits that guard it."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from core import zoo
from core.errors import ValidationError

DEFAULT_WORKSPACE = "workspace"


def _env_int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValidationError(
            f"{name}={raw!r} is not a whole number", key="error.setting_int", name=name, value=raw
        ) from exc
    if value < minimum:  # minimum 1, or 0 where 0 means "off" (BOLTSCOPE_MIN_FREE_MB)
        raise ValidationError(
            f"{name}={raw!r} must be " + ("greater than 0" if minimum == 1 else f"{minimum} or more"),
            key="error.setting_positive",
            name=name,
            value=raw,
        )
    return value


def decode_budget_mb() -> int:
    """BOLTSCOPE_MAX_DECODE_MB: the memory one decode may need, and all concurrent decodes of a process share."""
    return _env_int("BOLTSCOPE_MAX_DECODE_MB", 512)


def decode_slots() -> int:
    """BOLTSCOPE_DECODES: photos one process decodes at once (imports, Diagnose, doctor together)."""
    return _env_int("BOLTSCOPE_DECODES", 2)


@dataclass(frozen=True)
class Settings:
    """Everything a process needs to know about its workspace; immutable once built."""

    workspace: Path
    max_pixels: int = 100_000_000  # decompression-bomb guard: 100 MP
    max_file_mb: int = 100  # one photo or one zip entry
    max_zip_mb: int = 4096  # what one zip may expand to
    max_batch_files: int = 20_000  # files in one import call
    thumb_px: int = 256  # gallery thumbnails, longest side
    max_decode_mb: int = 512  # memory one decode may need (bytes per pixel × pixels); more is refused
    cache_px: int = 1024  # decoded working copy for training and display, longest side
    min_class_images: int = 10  # below this a class is flagged "too few to train"
    split_ratios: tuple[float, float, float] = field(default=(0.7, 0.15, 0.15))
    min_free_mb: int = 64  # imports stop here: the last free space is kept for sign-in and the database
    reserve_mb: int = 8  # the workspace's .reserve file, given back when a sign-in meets a full disk

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_mb * 1024 * 1024

    @property
    def max_zip_bytes(self) -> int:
        return self.max_zip_mb * 1024 * 1024


def load_settings(workspace: str | os.PathLike[str] | None = None) -> Settings:
    """Build Settings: explicit argument first, then BOLTSCOPE_* variables, then defaults."""
    root = workspace or os.environ.get("BOLTSCOPE_WORKSPACE") or DEFAULT_WORKSPACE
    return Settings(
        workspace=Path(root).expanduser().resolve(),
        max_pixels=_env_int("BOLTSCOPE_MAX_PIXELS", 100_000_000),
        max_decode_mb=decode_budget_mb(),
        max_file_mb=_env_int("BOLTSCOPE_MAX_FILE_MB", 100),
        max_zip_mb=_env_int("BOLTSCOPE_MAX_ZIP_MB", 4096),
        max_batch_files=_env_int("BOLTSCOPE_MAX_BATCH_FILES", 20_000),
        min_free_mb=_env_int("BOLTSCOPE_MIN_FREE_MB", 64, minimum=0),  # 0: no floor
        reserve_mb=_env_int("BOLTSCOPE_RESERVE_MB", 8),
    )


OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("cosine", "step", "plateau")
AUGMENTS = ("none", "flip", "photo", "strong")
BALANCES = ("none", "weighted_loss", "sampler")
RUN_KINDS = ("train", "quick", "suspects", "distill")
EXPORT_FORMATS = ("onnx", "torchscript")
EXPORT_SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}
QUICK_IMAGE_SIZE = 256  # the probe gains from seeing bolt crops near their photographed size


def _choice(name: str, value: object, options: tuple[str, ...]) -> None:
    if value not in options:
        raise ValidationError(
            f"{name} {value!r} is not one of: {', '.join(options)}",
            key="train.error.choice",
            name=name,
            value=value,
            options=", ".join(options),
        )


def _within(name: str, value: float, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValidationError(
            f"{name} {value!r} must be a number from {low:g} to {high:g}",
            key="train.error.range",
            name=name,
            value=value,
            low=f"{low:g}",
            high=f"{high:g}",
        )


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what a training run does; validated on creation, stored with the run."""

    arch: str = "efficientnet_lite0"
    kind: str = "train"
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    image_size: int = 224
    optimizer: str = "adamw"
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 1e-4
    scheduler: str = "cosine"
    warmup_epochs: int = 1
    augment: str = "flip"
    label_smoothing: float = 0.0
    balance: str = "none"
    freeze_epochs: int = 0
    early_stop: int = 0  # patience in epochs without a better validation macro-F1; 0 = off
    pretrained: bool = True
    seed: int = 0
    nproc: int = 1  # processes for DistributedDataParallel; 1 = plain training
    amp: bool = True  # CUDA only
    channels_last: bool = True  # CUDA only
    val_fraction: float = 0.15  # of train, held out when the dataset has no validation photos
    num_workers: int = 0
    teacher_run: int | None = None  # kind "distill": the run whose softened probabilities the student learns
    kd_temperature: float = 4.0  # distillation: both models' logits are divided by it in the teacher's term
    kd_weight: float = 0.7  # distillation: the teacher's term's share of the loss (the labels take the rest)

    def __post_init__(self) -> None:
        zoo.get_arch(self.arch)
        _choice("run kind", self.kind, RUN_KINDS)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("scheduler", self.scheduler, SCHEDULERS)
        _choice("augmentation", self.augment, AUGMENTS)
        _choice("class balance", self.balance, BALANCES)
        _within("epochs", self.epochs, 1, 1000)
        _within("batch size", self.batch_size, 1, 4096)
        _within("learning rate", self.lr, 1e-7, 10.0)
        _within("image size", self.image_size, 32, 1024)
        _within("momentum", self.momentum, 0.0, 0.999)
        _within("weight decay", self.weight_decay, 0.0, 1.0)
        _within("warm-up epochs", self.warmup_epochs, 0, self.epochs)
        _within("label smoothing", self.label_smoothing, 0.0, 0.5)
        _within("frozen-backbone epochs", self.freeze_epochs, 0, self.epochs)
        _within("early-stopping patience", self.early_stop, 0, 1000)
        _within("processes", self.nproc, 1, 64)
        _within("validation fraction", self.val_fraction, 0.01, 0.5)
        _within("data-loader workers", self.num_workers, 0, 64)
        for name in (
            "epochs",
            "batch_size",
            "image_size",
            "warmup_epochs",
            "freeze_epochs",
            "early_stop",
            "seed",
            "nproc",
            "num_workers",
        ):
            if not isinstance(getattr(self, name), int) or isinstance(getattr(self, name), bool):
                raise ValidationError(
                    f"{name.replace('_', ' ')} {getattr(self, name)!r} must be a whole number",
                    key="train.error.whole",
                    name=name.replace("_", " "),
                    value=getattr(self, name),
                )
        if not 0 <= self.seed < 2**32:
            raise ValidationError(
                f"seed {self.seed} must be from 0 to {2**32 - 1}",
                key="train.error.seed",
                value=self.seed,
                high=2**32 - 1,
            )
        for name in ("nesterov", "pretrained", "amp", "channels_last"):
            if not isinstance(getattr(self, name), bool):
                raise ValidationError(
                    f"{name.replace('_', ' ')} {getattr(self, name)!r} must be true or false",
                    key="train.error.yes_no",
                    name=name.replace("_", " "),
                    value=getattr(self, name),
                )
        _check_distillation(self)
        if self.batch_size % self.nproc:
            raise ValidationError(
                f"batch size {self.batch_size} must divide evenly over {self.nproc} processes",
                key="train.error.batch_nproc",
                batch=self.batch_size,
                nproc=self.nproc,
            )

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def trains_a_model(self) -> bool:
        """Fine-tuning or distillation: epochs of gradient steps with curves (not a probe on embeddings)."""
        return self.kind in ("train", "distill")

    @classmethod
    def from_dict(cls, values: dict[str, object]) -> TrainConfig:
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValidationError(
                f"unknown training settings: {', '.join(sorted(unknown))}",
                key="train.error.unknown_settings",
                names=", ".join(sorted(unknown)),
            )
        return cls(**values)


def _check_distillation(c: TrainConfig) -> None:
    """A distillation names its teacher run and trains in one process; no other kind names a teacher."""
    if c.kind != "distill":
        if c.teacher_run is not None:
            raise ValidationError(
                f"only a distillation has a teacher run (kind {c.kind!r})", key="distill.error.teacher_kind"
            )
        return
    if isinstance(c.teacher_run, bool) or not isinstance(c.teacher_run, int) or c.teacher_run < 1:
        raise ValidationError(
            f"a distillation needs its teacher's run id, got {c.teacher_run!r}",
            key="distill.error.teacher_id",
            value=c.teacher_run,
        )
    _within("distillation temperature", c.kd_temperature, 1.0, 20.0)
    _within("teacher weight", c.kd_weight, 0.0, 1.0)
    if c.nproc != 1:
        raise ValidationError(
            "a distillation trains in one process (its teacher's targets are computed there)",
            key="distill.error.nproc",
        )
