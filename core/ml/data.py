"""Datasets over a run's frozen snapshot: photos decoded and resized once into a uint8 tensor cache."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from core import imaging

log = logging.getLogger(__name__)


def decode_all(
    paths: Sequence[Path], size: int, threads: int | None = None, progress: Callable[[int, int], None] | None = None
) -> torch.Tensor:
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
    """(uint8 image, class index) pairs from the decoded cache; no file is read after decode_all.

    A DataLoader fetches a whole batch with one indexing operation (__getitems__) and gets it back as
    (N×3×S×S uint8, N targets) through `collate`; augmentation and normalisation happen afterwards on the
    batch (transforms.BatchPrep), on the model's device. The cache may itself live on the GPU.
    """

    def __init__(self, images: torch.Tensor, targets: Sequence[int] | torch.Tensor) -> None:
        if len(images) != len(targets):
            raise ValueError(f"{len(images)} images but {len(targets)} targets")
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"the cache holds N×3×S×S uint8 images, got {images.dtype} {tuple(images.shape)}")
        self.images = images
        packed = isinstance(targets, torch.Tensor) and targets.dim() == 2  # distillation rows (kd.pack)
        self.targets = targets.float() if packed else torch.as_tensor(list(targets), dtype=torch.long)

    @property
    def labels(self) -> torch.Tensor:
        """The class index of every photo (column 0 of packed distillation targets)."""
        return self.targets[:, 0].long() if self.targets.dim() == 2 else self.targets

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int | torch.Tensor]:
        target = self.targets[index]
        return self.images[index], target if target.dim() else int(target)

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.as_tensor(indices, dtype=torch.long)
        return self.images[rows.to(self.images.device)], self.targets[rows]


def collate(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """CachedImages.__getitems__ already returns the stacked batch."""
    return batch


def loader(dataset: CachedImages, batch_size: int, **options) -> DataLoader:
    """A DataLoader over the cache; pinned memory only when the cache is on the CPU and a GPU takes it."""
    on_cpu = dataset.images.device.type == "cpu"
    pin = options.pop("pin_memory", torch.cuda.is_available()) and on_cpu
    if not on_cpu:
        options["num_workers"] = 0  # the gather runs on the GPU, in this process
    return DataLoader(dataset, batch_size=batch_size, collate_fn=collate, pin_memory=pin, **options)
