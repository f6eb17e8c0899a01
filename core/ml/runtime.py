"""The processes that run models (worker, DDP ranks, prediction): allocator tuning, device, versions."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform
import sys
import time

import numpy as np
import torch
import torchvision
from torch import nn

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_tuned = False


def tune_allocator() -> bool:
    """Keep freed activation buffers in the heap instead of returning them to the OS.

    glibc serves each allocation above its mmap threshold with a fresh mmap and unmaps it on free, so
    every forward pass page-faults its activations in again: on a 2-core CPU that kernel time was more
    than half of EfficientNet-Lite0 inference, 2-4x slower (bench/bench_allocator.py measures it).
    Returns True when the setting took (glibc only; elsewhere a no-op).
    """
    global _tuned
    if _tuned or not sys.platform.startswith("linux"):
        return _tuned
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        ok = libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30) or libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
        ok = ok and libc.mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1)
    except (OSError, AttributeError) as exc:  # not glibc (musl has no mallopt): leave the defaults
        log.debug("allocator tuning unavailable: %s", exc)
        return False
    _tuned = bool(ok)
    return _tuned


def describe_device() -> str:
    """The device a run uses, in words for the run table: "cuda (2× NVIDIA …)" or "cpu (8 threads, x86_64)"."""
    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.device_count()}× {torch.cuda.get_device_name(0)})"
    return f"cpu ({torch.get_num_threads()} threads, {platform.processor() or platform.machine()})"


def versions() -> dict[str, str]:
    """What a run snapshots of its software, so a finished run says what trained it."""
    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__}


def processes_for(config_nproc: int, batch_size: int) -> int:
    """--nproc wins; otherwise one process per visible GPU when the batch divides evenly over them."""
    if config_nproc > 1:
        return config_nproc
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return gpus if gpus > 1 and batch_size % gpus == 0 else 1


def measure_cpu_ms(model: nn.Module, size: int, repeats: int = 7, budget_s: float = 2.0) -> float:
    """Median milliseconds for one photo (batch 1) on the CPU: the cost of a diagnosis on a plain PC.

    At most `repeats` timings, fewer once budget_s is spent: on a quiet PC 7 take a fraction of a second,
    while on a busy 2-core machine one forward took 8 s and 8 of them doubled the quick model's time.
    """
    model = model.to("cpu").eval()
    sample = torch.zeros(1, 3, size, size)
    times: list[float] = []
    with torch.inference_mode():
        began = time.perf_counter()
        model(sample)  # warm-up
        while len(times) < repeats and (not times or time.perf_counter() - began < budget_s):
            start = time.perf_counter()
            model(sample)
            times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


def pick_device(local_rank: int = 0) -> torch.device:
    return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")


def interleaved_cpu_ms(models: dict[object, tuple[nn.Module, int]], rounds: int = 30, threads: int | None = None):
    """Median ms per photo (batch 1, CPU) of several models of their input sizes, taking turns round by round so
    that a change in the machine's load falls on all of them alike; threads: torch's intra-op threads while
    timing (None: as set). Returns {key: ms}."""
    inputs = {key: (model.to("cpu").eval(), torch.zeros(1, 3, size, size)) for key, (model, size) in models.items()}
    times: dict[object, list[float]] = {key: [] for key in models}
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        with torch.inference_mode():
            for model, x in inputs.values():  # warm-up
                model(x)
            for _ in range(rounds):
                for key, (model, x) in inputs.items():
                    start = time.perf_counter()
                    model(x)
                    times[key].append((time.perf_counter() - start) * 1000)
    finally:
        torch.set_num_threads(before)
    return {key: float(np.median(t)) for key, t in times.items()}
