"""Decode untrusted photo bytes safely and fast (draft mode, EXIF orientation) and derive
the cached copy, the thumbnail and the quality signals (perceptual hash, brightness, sharpness)."""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from core import config
from core.errors import RejectedFile
from core.i18n import t

ACCEPTED = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "BMP": ".bmp", "TIFF": ".tif", "WEBP": ".webp"}
ACCEPTED_EXTS = (".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".tif", ".tiff", ".webp")
_HEIF_BRANDS = (b"ftypheic", b"ftypheix", b"ftyphevc", b"ftypmif1", b"ftypmsf1", b"ftypavif")
MIN_SIDE = 16
CACHE_QUALITY = 92
_ROTATED = (5, 6, 7, 8)  # EXIF orientations that swap width and height
_T = Image.Transpose
_TRANSPOSE = {
    2: _T.FLIP_LEFT_RIGHT,
    3: _T.ROTATE_180,
    4: _T.FLIP_TOP_BOTTOM,
    5: _T.TRANSPOSE,
    6: _T.ROTATE_270,
    7: _T.TRANSVERSE,
    8: _T.ROTATE_90,
}  # as ImageOps.exif_transpose
_DEEP = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
# Bytes per pixel Pillow holds for a decoded image of each mode (RGB is stored padded to 4).
_HELD = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
# Pillow's WebP decoder holds its own RGBA canvas and a bytes copy besides the image (measured: 16 B/px).
_DECODER_BPP = {"WEBP": 16}
_STRIP = 256  # rows converted at a time from 16-bit to 8-bit
_REDUCED_ROWS = 16  # output rows made at a time when a large image is reduced (a strip of 16 × factor rows)


def _trimmer() -> Callable[[], None]:
    """glibc's malloc_trim: freed image blocks go back to the OS (and not into another thread's arena)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return lambda: None

    def run() -> None:
        trim(0)

    return run


_TRIM = _trimmer()


class _DecodeGate:
    """Process-wide bound on decodes: at most `slots` at once, and their estimated memory within `budget_mb`
    (a decode alone may always run). Every decode of untrusted bytes goes through it."""

    def __init__(self, slots: int, budget_mb: int) -> None:
        self.slots = threading.BoundedSemaphore(slots)
        self.budget_mb = budget_mb
        self.in_use_mb = 0.0
        self.peak_mb = 0.0  # most memory reserved at once, for tests and diagnostics
        self._cond = threading.Condition()

    @contextmanager
    def reserve(self, mb: float) -> Iterator[None]:
        with self.slots:
            with self._cond:
                self._cond.wait_for(lambda: self.in_use_mb == 0 or self.in_use_mb + mb <= self.budget_mb)
                self.in_use_mb += mb
                self.peak_mb = max(self.peak_mb, self.in_use_mb)
            try:
                yield
            finally:
                if mb >= 32:  # give a large decode's memory back before another may count on it
                    _TRIM()
                with self._cond:
                    self.in_use_mb -= mb
                    self._cond.notify_all()


GATE = _DecodeGate(config.decode_slots(), config.decode_budget_mb())


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


def decode(data: bytes, max_pixels: int, working_px: int, budget_mb: int | None = None) -> Decoded:
    """Validate and decode one photo; raise RejectedFile with a specific reason when unfit. What the decode
    would need (bytes per pixel × pixels, from the header) is checked against `budget_mb` (default: the
    process's BOLTSCOPE_MAX_DECODE_MB) before any pixel is decoded, and reserved in the process-wide gate."""
    if not data:
        raise reject("reject.empty")
    if data[4:12] in _HEIF_BRANDS:
        raise reject("reject.heic")
    budget = budget_mb if budget_mb is not None else GATE.budget_mb
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img, fmt, width, height, orientation = _decode_within(
                Image.open(io.BytesIO(data)), max_pixels, working_px, budget
            )
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


def _decode_within(
    img: Image.Image, max_pixels: int, working_px: int, budget: int
) -> tuple[Image.Image, str, int, int, int]:
    """The header checked, the memory the decode needs refused over `budget` or reserved in the gate, then the
    pixels decoded (reduced while decoding), RGB and upright; with the format, the stored size and orientation."""
    fmt, width, height = _check_header(img, max_pixels, working_px)
    need = decode_mb(img.mode, img.size, fmt)
    if need > budget:
        raise reject("reject.memory", width=width, height=height, mode=img.mode, need_mb=need, budget_mb=budget)
    with GATE.reserve(need):
        img.load()
        orientation = img.getexif().get(0x0112, 1)  # after load: PNG's getexif loads the pixels
        img = to_rgb(_shrink(img, working_px))
    if orientation in _TRANSPOSE:
        img = img.transpose(_TRANSPOSE[orientation])
    return img, fmt, width, height, orientation


def _check_header(img: Image.Image, max_pixels: int, working_px: int) -> tuple[str, int, int]:
    """Format and size from the header; JPEG switched to a reduced-scale decode."""
    fmt = img.format or "?"
    if fmt not in ACCEPTED:
        raise reject("reject.format", format=fmt)
    width, height = img.size
    if width * height > max_pixels:
        raise reject("reject.pixels", width=width, height=height, mp=width * height / 1e6, limit_mp=max_pixels / 1e6)
    if min(width, height) < MIN_SIDE:
        raise reject("reject.too_small", width=width, height=height, min=MIN_SIDE)
    if fmt in ("JPEG", "MPO"):
        # DCT-domain downscale: a 12 MP photo is never fully decoded for a 1024 px copy.
        img.draft("RGB", (working_px, working_px))
    return fmt, width, height


def decode_mb(mode: str, size: tuple[int, int], fmt: str = "") -> float:
    """MB a decode of this mode and (post-draft) size holds at its peak: the decoded pixels (plus what the
    format's decoder holds besides); every conversion after that runs in strips or at the working size."""
    return size[0] * size[1] * _DECODER_BPP.get(fmt, _HELD.get(mode, 4)) / (1024 * 1024)


def _shrink(img: Image.Image, working_px: int) -> Image.Image:
    """A large decoded image reduced by an integer factor strip by strip: each strip is converted to a mode
    Image.reduce takes (16-bit to 8-bit, palette to RGB(A), RGBA premultiplied inside reduce), so no
    full-size copy is ever made. Small images come back as they are."""
    factor = max(img.size) // working_px
    if factor < 2:
        return img
    width, height = img.size
    rows = _REDUCED_ROWS * factor
    scale = _sixteen_scale(img) if img.mode.startswith("I;16") else 1  # of the whole photo, not of a strip
    out: Image.Image | None = None
    for top in range(0, height, rows):
        strip = _reducible(img.crop((0, top, width, min(height, top + rows))), scale).reduce(factor)
        if out is None:
            out = Image.new(strip.mode, (strip.width, -(-height // factor)))
        out.paste(strip, (0, top // factor))
    assert out is not None
    return out


def _reducible(img: Image.Image, scale: int) -> Image.Image:
    if img.mode.startswith("I;16"):
        return _sixteen_to_l(img, scale)
    if img.mode == "1":
        return img.convert("L")
    if img.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
        transparent = img.mode == "PA" or (img.mode == "P" and "transparency" in img.info)
        return img.convert("RGBA" if transparent else "RGB")
    return img


def _sixteen_scale(img: Image.Image) -> int:
    return 257 if img.getextrema()[1] > 255 else 1


def _sixteen_to_l(img: Image.Image, scale: int) -> Image.Image:
    """16-bit grey to 8-bit in strips (no full-size int or float copy): scaled by 1/257 when the photo uses
    the 16-bit range, clipped otherwise."""
    width, height = img.size
    out = np.empty((height, width), dtype=np.uint8)
    for top in range(0, height, _STRIP):
        strip = np.asarray(img.crop((0, top, width, min(height, top + _STRIP))), dtype=np.uint16)
        out[top : top + strip.shape[0]] = np.minimum(strip // scale, 255)
    return Image.fromarray(out, "L")


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB: 16-bit scaled down, transparency flattened on mid grey. Deep modes go
    through float32 (callers shrink large images first, so this is working-size)."""
    if img.mode in _DEEP:
        if img.mode.startswith("I;16"):
            img = _sixteen_to_l(img, _sixteen_scale(img))
        else:
            low_high = img.getextrema()
            peak = max(0.0, float(low_high[1]))
            arr = np.asarray(img, dtype=np.float32)
            if peak > 255:
                arr = arr / np.float32(257.0 if peak <= 65535 else peak / 255.0)
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
    lap = gray[1:-1, :-2] + gray[1:-1, 2:] + gray[:-2, 1:-1] + gray[2:, 1:-1] - 4.0 * gray[1:-1, 1:-1]
    return float(lap.var())
