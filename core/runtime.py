"""Process-wide tuning for the processes that run models (worker, DDP ranks, prediction)."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

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
