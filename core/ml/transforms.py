"""Augmentation presets (none, flip, photo, strong) and the eval preset, built from the model's Preprocess.

Inputs are uint8 CHW tensors already resized to the model's square size (core.ml.data caches them), so
the presets never decode or resize a JPEG. Training and evaluation prepare whole batches (BatchPrep) on
the device the model runs on: a GPU receives uint8 (a quarter of the bytes) and augments there.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from core.ml.models import Preprocess


def _normalise(pre: Preprocess) -> list[v2.Transform]:
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(pre.mean), list(pre.std))]


def _photo(pre: Preprocess) -> list[v2.Transform]:
    """What a handheld photo brings: light, contrast, focus, a small tilt and a slanted view."""
    return [
        v2.RandomApply([v2.ColorJitter(brightness=0.35, contrast=0.35, saturation=0.2)], p=0.8),
        v2.RandomApply([v2.GaussianBlur(5, sigma=(0.1, 1.6))], p=0.3),
        v2.RandomRotation(12),
        v2.RandomPerspective(distortion_scale=0.15, p=0.3),
        v2.RandomResizedCrop(pre.size, scale=(0.75, 1.0), ratio=(0.9, 1.1), antialias=True),
    ]


FLIPPED = frozenset({"flip", "photo", "strong"})  # presets that mirror photos at random
_EXTRAS: dict[str, Callable[[Preprocess], list[v2.Transform]]] = {  # what each adds beyond the flips
    "none": lambda pre: [],
    "flip": lambda pre: [],
    "photo": _photo,
    "strong": lambda pre: [v2.RandAugment(num_ops=2, magnitude=9)],
}


def eval_transform(pre: Preprocess) -> v2.Compose:
    """The one preset evaluation, Grad-CAM, prediction and export all use."""
    return v2.Compose(_normalise(pre))


class BatchPrep:
    """uint8 N×3×S×S batch, on any device → float32 normalised, each photo augmented by the preset on its own.

    The random mirrors (`flip`, the default, and under `photo` and `strong`) go photo by photo into one
    copy; `photo` and `strong` then apply their other transforms one photo at a time (each photo draws
    its own parameters), still on the batch's device. train=False gives the evaluation preparation.
    The normalisation is eval_transform's, applied to the whole batch at once.
    """

    def __init__(self, preset: str, pre: Preprocess, train: bool = True) -> None:
        self.preset = preset if train else "none"
        self.mean, self.std = list(pre.mean), list(pre.std)
        extras = _EXTRAS[self.preset](pre)
        self.per_photo = v2.Compose(extras) if extras else None

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        if batch.dtype != torch.uint8 or batch.dim() != 4:
            raise ValueError(f"BatchPrep takes an N×3×H×W uint8 batch, got {batch.dtype} {tuple(batch.shape)}")
        if self.preset in FLIPPED:
            batch = _random_flips(batch)
        if self.per_photo is not None:
            batch = torch.stack([self.per_photo(photo) for photo in batch])
        return F.normalize(F.to_dtype(batch, torch.float32, scale=True), self.mean, self.std)


def _random_flips(batch: torch.Tensor) -> torch.Tensor:
    """Each photo mirrored left-right and upside-down with probability 1/2 each, independently.

    Bolts are photographed from any side: a mirror image is still the same bolt. A copy flipped photo by
    photo: 8x faster on a CPU than torch.where over two flipped batches.
    """
    coins = (torch.rand(2, batch.shape[0]) < 0.5).tolist()
    out = batch.clone()
    for i, (mirror, upside_down) in enumerate(zip(*coins, strict=True)):
        if mirror:
            out[i] = out[i].flip(-1)
        if upside_down:
            out[i] = out[i].flip(-2)
    return out


def batch_mix(preset: str, num_classes: int) -> Callable | None:
    """Mixup or CutMix on whole batches (soft targets) for the strong preset; None otherwise."""
    if preset != "strong":
        return None
    return v2.RandomChoice([v2.MixUp(num_classes=num_classes), v2.CutMix(num_classes=num_classes)])
