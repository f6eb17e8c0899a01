"""Augmentation presets (none, flip, photo, strong) and the eval preset, built from the model's Preprocess.

Inputs are uint8 CHW tensors already resized to the model's square size (core.data caches them), so
the presets never decode or resize a JPEG.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchvision.transforms import v2

from core.models import Preprocess


def _normalise(pre: Preprocess) -> list[v2.Transform]:
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(pre.mean), list(pre.std))]


def _flips() -> list[v2.Transform]:
    # bolts are photographed from any side: mirror images are still the same bolt
    return [v2.RandomHorizontalFlip(), v2.RandomVerticalFlip()]


def _photo(pre: Preprocess) -> list[v2.Transform]:
    """What a handheld photo brings: light, contrast, focus, a small tilt and a slanted view."""
    return [*_flips(),
            v2.RandomApply([v2.ColorJitter(brightness=0.35, contrast=0.35, saturation=0.2)], p=0.8),
            v2.RandomApply([v2.GaussianBlur(5, sigma=(0.1, 1.6))], p=0.3),
            v2.RandomRotation(12),
            v2.RandomPerspective(distortion_scale=0.15, p=0.3),
            v2.RandomResizedCrop(pre.size, scale=(0.75, 1.0), ratio=(0.9, 1.1), antialias=True)]


PRESETS: dict[str, Callable[[Preprocess], list[v2.Transform]]] = {
    "none": lambda pre: [],
    "flip": lambda pre: _flips(),
    "photo": _photo,
    "strong": lambda pre: [*_flips(), v2.RandAugment(num_ops=2, magnitude=9)],
}


def train_transform(preset: str, pre: Preprocess) -> v2.Compose:
    return v2.Compose([*PRESETS[preset](pre), *_normalise(pre)])


def eval_transform(pre: Preprocess) -> v2.Compose:
    """The one preset evaluation, Grad-CAM, prediction and export all use."""
    return v2.Compose(_normalise(pre))


def batch_mix(preset: str, num_classes: int) -> Callable | None:
    """Mixup or CutMix on whole batches (soft targets) for the strong preset; None otherwise."""
    if preset != "strong":
        return None
    return v2.RandomChoice([v2.MixUp(num_classes=num_classes), v2.CutMix(num_classes=num_classes)])
