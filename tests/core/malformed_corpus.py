"""A corpus of malformed and unusual inputs for the importer: (kind, upload name, bytes)."""

from __future__ import annotations

import io
import struct
import zipfile

import numpy as np
from PIL import Image

from tests.conftest import make_image


def _save(img: Image.Image, fmt: str, **args) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **args)
    return buf.getvalue()


def _noise(seed: int, w: int = 64, h: int = 48, mode: str = "RGB") -> Image.Image:
    arr = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    return Image.fromarray(arr, "RGB").convert(mode) if mode != "RGB" else Image.fromarray(arr, "RGB")


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buf.getvalue()


def _exif_rotated(seed: int) -> bytes:
    img = _noise(seed, 80, 40)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    return _save(img, "JPEG", exif=exif)


def _animated_gif(seed: int) -> bytes:
    frames = [_noise(seed + i).convert("P") for i in range(3)]
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _palette_transparent(seed: int) -> bytes:
    img = _noise(seed).convert("P")
    return _save(img, "PNG", transparency=0)


def _sixteen_bit(seed: int) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 65535, (48, 64), dtype=np.uint16)
    return _save(Image.fromarray(arr), "PNG")  # mode I;16


def _bad_crc_png(seed: int) -> bytes:
    data = bytearray(make_image(seed, fmt="PNG"))
    ihdr = data.index(b"IHDR")
    data[ihdr + 17 : ihdr + 21] = b"\x00\x00\x00\x00"  # the header chunk's CRC
    return bytes(data)


def _bmp_claiming(width: int, height: int) -> bytes:
    header = b"BM" + struct.pack("<IHHI", 54, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return header + info


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="64" height="48"><rect width="64" '
    b'height="48" fill="red"/></svg>'
)

# kind -> (upload name, bytes, expected: None = imported, else the refusal key)
CORPUS: dict[str, tuple[str, bytes, str | None]] = {
    "cmyk jpeg": ("cmyk.jpg", _save(_noise(1, mode="CMYK"), "JPEG"), None),
    "grey jpeg": ("grey.jpg", _save(_noise(2, mode="L"), "JPEG"), None),
    "progressive jpeg": ("prog.jpg", _save(_noise(3), "JPEG", progressive=True), None),
    "exif-rotated jpeg": ("rotated.jpg", _exif_rotated(4), None),
    "jpeg with trailing bytes": ("trailing.jpg", _save(_noise(5), "JPEG") + b"\x00" * 100, None),
    "16-bit png": ("deep.png", _sixteen_bit(6), None),
    "palette png with transparency": ("palette.png", _palette_transparent(7), None),
    "grey+alpha png": ("la.png", _save(_noise(8, mode="LA"), "PNG"), None),
    "rgba png": ("rgba.png", _save(_noise(9, mode="RGBA"), "PNG"), None),
    "multi-page tiff": ("pages.tif", _save(_noise(10), "TIFF", save_all=True, append_images=[_noise(11)]), None),
    "16-bit tiff": ("deep.tif", _save(Image.fromarray(np.full((48, 64), 40000, np.uint16)), "TIFF"), None),
    "name with control characters": ("bolt\x07\x1b[31m.jpg", make_image(12), None),
    "300-character name": ("b" * 296 + ".jpg", make_image(13), None),  # shortened, extension kept
    "korean name (decomposed)": ("\u1107\u1169\u11af\u1110\u1173.jpg", make_image(14), None),
    "animated gif renamed .png": ("anim.png", _animated_gif(15), "reject.format"),
    "svg renamed .png": ("vector.png", SVG, "reject.not_image"),
    "svg": ("vector.svg", SVG, "reject.extension"),
    "pdf renamed .jpg": ("scan.jpg", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n" * 5, "reject.not_image"),
    "ico renamed .png": ("icon.png", _save(_noise(16, 32, 32), "ICO"), "reject.format"),
    "1x1 pixel": ("dot.png", make_image(17, size=(1, 1), fmt="PNG"), "reject.too_small"),
    "10 px sliver": ("sliver.png", make_image(18, size=(200, 10), fmt="PNG"), "reject.too_small"),
    "png with a broken header crc": ("crc.png", _bad_crc_png(19), "reject.not_image"),  # Pillow cannot identify it
    "bmp header claiming 100k x 100k": ("huge.bmp", _bmp_claiming(100_000, 100_000), "reject.bomb"),
    "zip-slip with backslashes": ("slip.zip", _zip({"..\\..\\evil.jpg": make_image(20)}), "reject.unsafe_path"),
    "zip with a drive letter": ("drive.zip", _zip({"C:/photos/x.jpg": make_image(21)}), "reject.unsafe_path"),
    "zip with an empty entry": ("emptyentry.zip", _zip({"nothing.jpg": b""}), "reject.empty"),
}
