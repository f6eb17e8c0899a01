"""Datasets over a run's frozen snapshot: photos decoded and resized once into a uint8 tensor cache."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from torch.utils.data import Dataset

from core import imaging

log = logging.getLogger(__name__)


def decode_all(paths: Sequence[Path], size: int, threads: int | None = None,
               progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """N×3×size×size uint8: every photo decoded once (PIL releases the GIL, so threads help)."""
    out = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)
    workers = threads or max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        for index, array in enumerate(pool.map(lambda p: imaging.model_input(p, size), paths)):
            out[index] = torch.from_numpy(array)
            if progress and (index % 64 == 0 or index == len(paths) - 1):
                progress(index + 1, len(paths))
    return out


class CachedImages(Dataset):
    """(transformed image, class index) pairs from the decoded cache; no file is read after decode_all."""

    def __init__(self, images: torch.Tensor, targets: Sequence[int], transform: Callable) -> None:
        if len(images) != len(targets):
            raise ValueError(f"{len(images)} images but {len(targets)} targets")
        self.images = images
        self.targets = torch.as_tensor(list(targets), dtype=torch.long)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(self.images[index]), int(self.targets[index])
