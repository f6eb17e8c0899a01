"""Decode untrusted photo bytes safely and fast (draft mode, EXIF orientation) and derive
the cached copy, the thumbnail and the quality signals (perceptual hash, brightness, sharpness)."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import RejectedFile
from core.i18n import t

ACCEPTED = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "BMP": ".bmp", "TIFF": ".tif", "WEBP": ".webp"}
ACCEPTED_EXTS = (".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".tif", ".tiff", ".webp")
_HEIF_BRANDS = (b"ftypheic", b"ftypheix", b"ftyphevc", b"ftypmif1", b"ftypmsf1", b"ftypavif")
MIN_SIDE = 16
CACHE_QUALITY = 92
_ROTATED = (5, 6, 7, 8)  # EXIF orientations that swap width and height


def reject(key: str, **detail: object) -> RejectedFile:
    return RejectedFile(key, t(key, "en", **detail), **detail)


@dataclass(frozen=True)
class Decoded:
    image: Image.Image  # RGB, upright, longest side <= the requested working size
    format: str
    ext: str
    width: int  # the full photo's size, upright
    height: int


@dataclass(frozen=True)
class Derived:
    cached_jpeg: bytes
    thumb_jpeg: bytes
    phash: str
    brightness: float
    sharpness: float


def decode(data: bytes, max_pixels: int, working_px: int) -> Decoded:
    """Validate and decode one photo; raise RejectedFile with a specific reason when unfit."""
    if not data:
        raise reject("reject.empty")
    if data[4:12] in _HEIF_BRANDS:
        raise reject("reject.heic")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt = img.format or "?"
            if fmt not in ACCEPTED:
                raise reject("reject.format", format=fmt)
            width, height = img.size
            if width * height > max_pixels:
                raise reject("reject.pixels", width=width, height=height,
                             mp=width * height / 1e6, limit_mp=max_pixels / 1e6)
            if min(width, height) < MIN_SIDE:
                raise reject("reject.too_small", width=width, height=height, min=MIN_SIDE)
            orientation = img.getexif().get(0x0112, 1)
            if fmt in ("JPEG", "MPO"):
                # DCT-domain downscale: a 12 MP photo is never fully decoded for a 1024 px copy.
                img.draft("RGB", (working_px, working_px))
            img.load()
            img = ImageOps.exif_transpose(img)
            img = to_rgb(img)
    except RejectedFile:
        raise
    except UnidentifiedImageError as exc:
        raise reject("reject.not_image") from exc
    except Image.DecompressionBombError as exc:
        raise reject("reject.bomb", detail=str(exc)[:120]) from exc
    except Exception as exc:  # Pillow raises many types on malformed data; each is a refusal
        raise reject("reject.corrupt", detail=str(exc)[:160] or type(exc).__name__) from exc
    if max(img.size) > working_px:
        img.thumbnail((working_px, working_px), Image.Resampling.BICUBIC, reducing_gap=2.0)
    if orientation in _ROTATED:
        width, height = height, width
    return Decoded(img, fmt, ACCEPTED[fmt], width, height)


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB: 16-bit scaled down, transparency flattened on mid grey."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        peak = arr.max() if arr.size else 0
        if peak > 255:
            arr = arr / (257.0 if peak <= 65535 else peak / 255.0)
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L").convert("RGB")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        backdrop = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
        return Image.alpha_composite(backdrop, rgba).convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")


def derive(img: Image.Image, thumb_px: int) -> Derived:
    """The cached working copy, a thumbnail and the quality signals of an upright RGB image."""
    thumb = img.copy()
    thumb.thumbnail((thumb_px, thumb_px), Image.Resampling.BICUBIC, reducing_gap=2.0)
    gray = np.asarray(thumb.convert("L"), dtype=np.float32)
    return Derived(
        cached_jpeg=stored_copy(img),
        thumb_jpeg=_jpeg(thumb, 85),
        phash=dhash(thumb),
        brightness=float(gray.mean()),
        sharpness=laplacian_variance(gray),
    )


def stored_copy(img: Image.Image) -> bytes:
    """The workspace's cached working copy of a decoded photo (JPEG q92). A photo that is not stored yet goes
    through it too before the model sees it, so prediction sees the very pixels training and evaluation saw."""
    return _jpeg(img, CACHE_QUALITY)


def model_input(source: bytes | Path, size: int) -> np.ndarray:
    """3×size×size uint8 from a stored copy: the one resize that training, evaluation and prediction share."""
    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as img:
        img.draft("RGB", (size * 2, size * 2))  # JPEG: decode at a reduced scale when it is large
        rgb = img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.array(rgb, dtype=np.uint8).transpose(2, 0, 1)  # a writable copy, as torch wants


def _jpeg(img: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, optimize=False)
    return out.getvalue()


def dhash(img: Image.Image) -> str:
    """64-bit difference hash as 16 hex digits: near-identical photos differ in few bits."""
    small = np.asarray(img.convert("L").resize((9, 8), Image.Resampling.BOX), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return f"{value:016x}"


def laplacian_variance(gray: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian: low on blurred photos, high on sharp ones."""
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        return 0.0
    lap = (gray[1:-1, :-2] + gray[1:-1, 2:] + gray[:-2, 1:-1] + gray[2:, 1:-1]
           - 4.0 * gray[1:-1, 1:-1])
    return float(lap.var())
