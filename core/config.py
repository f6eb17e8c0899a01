"""Settings from the environment and the CLI: where the workspace is and the limits that guard it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.errors import ValidationError

DEFAULT_WORKSPACE = "workspace"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValidationError(f"{name}={raw!r} is not a whole number") from exc
    if value <= 0:
        raise ValidationError(f"{name}={raw!r} must be greater than 0")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything a process needs to know about its workspace; immutable once built."""

    workspace: Path
    max_pixels: int = 100_000_000  # decompression-bomb guard: 100 MP
    max_file_mb: int = 100  # one photo or one zip entry
    max_zip_mb: int = 4096  # what one zip may expand to
    max_batch_files: int = 20_000  # files in one import call
    thumb_px: int = 256  # gallery thumbnails, longest side
    cache_px: int = 1024  # decoded working copy for training and display, longest side
    min_class_images: int = 10  # below this a class is flagged "too few to train"
    split_ratios: tuple[float, float, float] = field(default=(0.7, 0.15, 0.15))

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_mb * 1024 * 1024

    @property
    def max_zip_bytes(self) -> int:
        return self.max_zip_mb * 1024 * 1024

    def with_workspace(self, path: str | os.PathLike[str]) -> Settings:
        return replace(self, workspace=Path(path).expanduser().resolve())


def load_settings(workspace: str | os.PathLike[str] | None = None) -> Settings:
    """Build Settings: explicit argument first, then BOLTSCOPE_* variables, then defaults."""
    root = workspace or os.environ.get("BOLTSCOPE_WORKSPACE") or DEFAULT_WORKSPACE
    return Settings(
        workspace=Path(root).expanduser().resolve(),
        max_pixels=_env_int("BOLTSCOPE_MAX_PIXELS", 100_000_000),
        max_file_mb=_env_int("BOLTSCOPE_MAX_FILE_MB", 100),
        max_zip_mb=_env_int("BOLTSCOPE_MAX_ZIP_MB", 4096),
        max_batch_files=_env_int("BOLTSCOPE_MAX_BATCH_FILES", 20_000),
    )
