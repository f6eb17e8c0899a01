"""core.ingest: importing files, folders and zips, every refusal with its own reason, nothing half-written."""

from __future__ import annotations

import io
import struct
import unicodedata
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from core import auth, dataset_export, files, ingest, store
from core.errors import PermissionDenied, StorageError, ValidationError
from core.workspace import Workspace, open_workspace
from tests.conftest import make_image

# ---- helpers ---------------------------------------------------------------------------------


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def disk_files(ws: Workspace) -> dict[str, tuple[int, int]]:
    """Every file under the workspace's image folders: relative path -> (size, mtime_ns)."""
    found = {}
    for folder in (ws.layout.originals, ws.layout.cache):
        for path in folder.rglob("*"):
            if path.is_file():
                stat = path.stat()
                found[str(path.relative_to(ws.layout.root))] = (stat.st_size, stat.st_mtime_ns)
    return found


def table_counts(ws: Workspace) -> tuple[int, int]:
    images = ws.conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]
    events = ws.conn.execute("SELECT COUNT(*) FROM label_events").fetchone()[0]
    return images, events


def assert_disk_matches_db(ws: Workspace) -> None:
    """One original, one cached copy and one thumbnail per stored image; no temp files anywhere."""
    images = store.all_images(ws.conn, include_trashed=True)
    originals = sorted(p for p in ws.layout.originals.rglob("*") if p.is_file())
    cached = sorted(p for p in (ws.layout.cache / "images").rglob("*") if p.is_file())
    thumbs = sorted(p for p in (ws.layout.cache / "thumbs").rglob("*") if p.is_file())
    assert originals == sorted(ws.layout.original(im.sha256, im.ext) for im in images)
    assert cached == sorted(ws.layout.cached(im.sha256) for im in images)
    assert thumbs == sorted(ws.layout.thumb(im.sha256) for im in images)
    temps = [p for p in ws.layout.root.rglob("*") if p.name.startswith(files.TMP_PREFIX)]
    assert temps == []
    assert store.stats(ws.conn)["total"] == len([im for im in images if im.deleted_at is None])


def outcome_by_file(report: ingest.ImportReport) -> dict[str, ingest.FileOutcome]:
    by_file = {o.file: o for o in report.outcomes}
    assert len(by_file) == len(report.outcomes), "one outcome per file"
    return by_file


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height: refused before any pixel is decoded."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = data.index(b"IHDR")
    struct.pack_into(">II", data, ihdr + 4, width, height)
    crc = zipfile.crc32(bytes(data[ihdr : ihdr + 17]))
    struct.pack_into(">I", data, ihdr + 17, crc)
    return bytes(data)


def set_encrypted_flag(zip_bytes: bytes, entry: str) -> bytes:
    """Set bit 0 (encrypted) of one entry in both its local header and its central directory record.

    zipfile resets flag_bits when writing, so a ZipInfo with the bit set is not enough.
    """
    data = bytearray(zip_bytes)
    info = zipfile.ZipFile(io.BytesIO(zip_bytes)).getinfo(entry)
    local = info.header_offset
    assert data[local : local + 4] == b"PK\x03\x04"
    struct.pack_into("<H", data, local + 6, struct.unpack_from("<H", data, local + 6)[0] | 1)
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46 : pos + 46 + name_len]) == entry.encode():
            struct.pack_into("<H", data, pos + 8, struct.unpack_from("<H", data, pos + 8)[0] | 1)
        pos = data.find(b"PK\x01\x02", pos + 4)
    patched = bytes(data)
    check = zipfile.ZipFile(io.BytesIO(patched))
    assert check.getinfo(entry).flag_bits & 1, "the encrypted bit did not stick"
    with pytest.raises(RuntimeError, match="encrypted"):
        check.read(entry)  # zipfile itself now treats the entry as encrypted
    return patched


def zip_bytes(entries: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buf.getvalue()


def two_colour_jpeg(
    size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int], orientation: int | None = None
) -> bytes:
    img = Image.new("RGB", size, top)
    img.paste(bottom, (0, size[1] // 2, size[0], size[1]))
    buf = io.BytesIO()
    if orientation is None:
        img.save(buf, "JPEG", quality=95)
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        img.save(buf, "JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


def cached_image(ws: Workspace, image: store.Image) -> Image.Image:
    with Image.open(ws.layout.cached(image.sha256)) as img:
        return img.convert("RGB").copy()


def only_image(ws: Workspace) -> store.Image:
    images = store.all_images(ws.conn)
    assert len(images) == 1
    return images[0]


# ---- good photos ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "name", "ext"),
    [
        ("JPEG", "a.jpg", ".jpg"),
        ("JPEG", "b.JPEG", ".jpg"),
        ("PNG", "c.png", ".png"),
        ("BMP", "d.bmp", ".bmp"),
        ("TIFF", "e.tiff", ".tif"),
        ("WEBP", "f.webp", ".webp"),
    ],
)
def test_good_formats_import(ws, admin, tmp_path, fmt, name, ext):
    data = make_image(7, size=(64, 48), fmt=fmt)
    path = write(tmp_path / "in" / name, data)
    report = ingest.import_paths(ws, admin, [path])
    assert [o.status for o in report.outcomes] == ["imported"]
    image = only_image(ws)
    assert (image.width, image.height, image.ext, image.display_name) == (64, 48, ext, name)
    assert image.bytes == len(data) and image.source == "import" and image.added_by == "alice"
    assert ws.layout.original(image.sha256, ext).read_bytes() == data  # the original, byte for byte
    assert cached_image(ws, image).size == (64, 48)
    assert report.imported_ids == [image.id]
    assert_disk_matches_db(ws)


def test_exif_orientation_is_applied(ws, admin, tmp_path):
    # stored 64 wide x 48 tall, red on top; orientation 6 means "rotate 90° clockwise to view"
    data = two_colour_jpeg((64, 48), (230, 20, 20), (20, 20, 230), orientation=6)
    with Image.open(io.BytesIO(data)) as raw:
        assert raw.size == (64, 48) and raw.getexif()[0x0112] == 6
    ingest.import_paths(ws, admin, [write(tmp_path / "rotated.jpg", data)])
    image = only_image(ws)
    assert (image.width, image.height) == (48, 64)
    upright = np.asarray(cached_image(ws, image), dtype=np.int16)
    assert upright.shape == (64, 48, 3)
    # the stored top row is the viewed right-hand side: red on the right, blue on the left
    right, left = upright[:, -10:].mean(axis=(0, 1)), upright[:, :10].mean(axis=(0, 1))
    assert right[0] > 180 and right[2] < 80, right
    assert left[2] > 180 and left[0] < 80, left


def test_exif_orientation_1_keeps_size(ws, admin, tmp_path):
    data = two_colour_jpeg((64, 48), (230, 20, 20), (20, 20, 230), orientation=1)
    ingest.import_paths(ws, admin, [write(tmp_path / "plain.jpg", data)])
    image = only_image(ws)
    assert (image.width, image.height) == (64, 48)
    top = np.asarray(cached_image(ws, image), dtype=np.int16)[:10].mean(axis=(0, 1))
    assert top[0] > 180 and top[2] < 80


def test_korean_and_non_ascii_names_are_kept(ws, admin, tmp_path):
    names = ["볼트_정상_01.jpg", "Schraube_müde.png", "ボルト.jpg"]
    paths = [
        write(tmp_path / n, make_image(i, fmt="PNG" if n.endswith("png") else "JPEG")) for i, n in enumerate(names)
    ]
    # macOS writes decomposed (NFD) Hangul; the display name is normalised to NFC
    nfd = unicodedata.normalize("NFD", "파손_사진.jpg")
    assert nfd != "파손_사진.jpg"
    paths.append(write(tmp_path / nfd, make_image(9)))
    report = ingest.import_paths(ws, admin, paths)
    assert report.count("imported") == 4
    stored = {im.display_name for im in store.all_images(ws.conn)}
    assert stored == {*names, "파손_사진.jpg"}


def test_upload_names_and_zip_entries_keep_korean(ws, labeler):
    archive = zip_bytes({"사진/정상/첫번째.jpg": make_image(1), "유실/두번째.jpg": make_image(2)})
    report = ingest.import_uploads(ws, labeler, [("현장.zip", archive), ("정상/세번째.jpg", make_image(3))])
    assert report.count("imported") == 3
    by_name = {im.display_name: im for im in store.all_images(ws.conn)}
    assert set(by_name) == {"현장.zip/사진/정상/첫번째.jpg", "현장.zip/유실/두번째.jpg", "세번째.jpg"}
    assert by_name["현장.zip/사진/정상/첫번째.jpg"].label == "normal"
    assert by_name["현장.zip/유실/두번째.jpg"].label == "missing"
    assert by_name["세번째.jpg"].label == "normal"
    assert all(im.source == "upload" for im in by_name.values())


def test_zip_names_in_cp949_from_windows_tools(ws, admin, tmp_path):
    """Windows zip tools write Korean names in cp949 without the UTF-8 flag."""
    korean = "정상/볼트.jpg"
    raw = korean.encode("cp949")
    placeholder = "x" * len(raw)
    data = bytearray(zip_bytes({placeholder: make_image(4)}))
    assert data.count(placeholder.encode()) == 2  # local header and central directory
    data = bytes(data).replace(placeholder.encode(), raw)
    assert not zipfile.ZipFile(io.BytesIO(data)).infolist()[0].flag_bits & 0x800
    report = ingest.import_paths(ws, admin, [write(tmp_path / "windows.zip", data)])
    assert report.count("imported") == 1, report.to_json()
    image = only_image(ws)
    assert image.display_name == f"windows.zip/{korean}" and image.label == "normal"


def make_imagefolder(root: Path) -> dict[str, str | None]:
    """An ImageFolder tree; returns file name -> the label its folder means."""
    layout = {
        "normal": "normal",
        "정상": "normal",
        "Broken": "broken",
        "파손": "broken",
        "유실": "missing",
        "MISSING": "missing",
        "unsorted": None,
    }
    expected: dict[str, str | None] = {}
    seed = 100
    for folder, label in layout.items():
        for k in range(2):
            name = f"{folder}_{k}.jpg"
            write(root / folder / name, make_image(seed))
            expected[name] = label
            seed += 1
    write(root / "top_level.png", make_image(seed, fmt="PNG"))
    expected["top_level.png"] = None
    write(root / ".hidden" / "skip.jpg", make_image(seed + 1))  # hidden folders are skipped
    write(root / "normal" / "Thumbs.db", b"windows junk")  # junk files are skipped silently
    return expected


def test_folder_import_uses_class_subfolders_as_labels(ws, labeler, tmp_path):
    expected = make_imagefolder(tmp_path / "data")
    report = ingest.import_paths(ws, labeler, [tmp_path / "data"])
    assert report.to_json() == {"imported": len(expected), "duplicates": 0, "rejected": []}
    labels = {im.display_name: im.label for im in store.all_images(ws.conn)}
    assert labels == expected
    stats = store.stats(ws.conn)
    assert stats["by_label"] == {"normal": 4, "broken": 4, "missing": 4}
    assert stats["unlabeled"] == 3
    events = ws.conn.execute("SELECT new_label, user, source FROM label_events").fetchall()
    assert len(events) == 12  # one first event per labelled photo, none for unlabeled ones
    assert {(e["user"], e["source"]) for e in events} == {("lee", "import")}
    assert all(im.split in store.SPLITS for im in store.all_images(ws.conn))


def test_label_argument_overrides_folders(ws, admin, tmp_path):
    expected = make_imagefolder(tmp_path / "data")
    ingest.import_paths(ws, admin, [tmp_path / "data"], label="broken")
    assert {im.label for im in store.all_images(ws.conn)} == {"broken"}
    assert store.stats(ws.conn)["by_label"]["broken"] == len(expected)


def test_split_argument_locks_the_split(ws, admin, tmp_path):
    paths = [write(tmp_path / f"{i}.jpg", make_image(i)) for i in range(5)]
    ingest.import_paths(ws, admin, paths, label="normal", split="test")
    assert {(im.split, im.split_locked) for im in store.all_images(ws.conn)} == {("test", True)}


def test_bad_arguments_are_refused_before_anything_is_read(ws, admin, viewer, tmp_path):
    path = write(tmp_path / "a.jpg", make_image(1))
    with pytest.raises(ValidationError, match="'rusty'.*valid labels: normal, broken, missing"):
        ingest.import_paths(ws, admin, [path], label="rusty")
    with pytest.raises(ValidationError, match="'holdout'.*train, val, test"):
        ingest.import_paths(ws, admin, [path], split="holdout")
    with pytest.raises(PermissionDenied, match="'vic'"):
        ingest.import_paths(ws, viewer, [path])
    assert table_counts(ws) == (0, 0)


def test_reimport_reports_all_duplicates_and_changes_nothing(ws, admin, tmp_path):
    expected = make_imagefolder(tmp_path / "data")
    write(tmp_path / "loose.jpg", make_image(999))
    sources = [tmp_path / "data", tmp_path / "loose.jpg"]
    first = ingest.import_paths(ws, admin, sources)
    assert first.count("imported") == len(expected) + 1
    counts, disk, rows = table_counts(ws), disk_files(ws), store.all_images(ws.conn)

    again = ingest.import_paths(ws, admin, sources, label="missing")
    assert again.to_json() == {"imported": 0, "duplicates": len(expected) + 1, "rejected": []}
    by_id = {im.id: im for im in rows}
    for outcome in again.outcomes:
        assert outcome.key == "dup.existing" and outcome.image_id in by_id
        assert outcome.message == f"already in the dataset as photo #{outcome.image_id}"
        assert by_id[outcome.image_id].display_name == outcome.file
    assert table_counts(ws) == counts
    assert disk_files(ws) == disk
    assert store.all_images(ws.conn) == rows  # labels, splits, everything unchanged


def test_duplicates_within_one_batch_and_in_trash(ws, admin, tmp_path):
    data = make_image(5)
    a, b = write(tmp_path / "a.jpg", data), write(tmp_path / "copy_of_a.jpg", data)
    outcomes = outcome_by_file(ingest.import_paths(ws, admin, [a, b]))
    first, second = outcomes["a.jpg"], outcomes["copy_of_a.jpg"]
    assert (first.status, second.status, second.key) == ("imported", "duplicate", "dup.batch")
    assert second.detail == {"name": "a.jpg"}
    store.set_trashed(ws.conn, admin, [first.image_id], True)
    again = ingest.import_paths(ws, admin, [b])
    assert [(o.status, o.key, o.image_id) for o in again.outcomes] == [("duplicate", "dup.trash", first.image_id)]
    assert table_counts(ws)[0] == 1


def test_photo_stored_by_another_process_meanwhile_counts_as_duplicate(ws, admin, tmp_path, monkeypatch):
    """If the hash check misses a photo that another process inserts, the insert does not double it."""
    paths = [write(tmp_path / f"{i}.jpg", make_image(i)) for i in range(3)]
    ingest.import_paths(ws, admin, paths, label="normal")
    counts = table_counts(ws)
    monkeypatch.setattr(store, "find_shas", lambda conn, shas: {})
    report = ingest.import_paths(ws, admin, paths, label="broken")
    assert report.to_json() == {"imported": 0, "duplicates": 3, "rejected": []}
    assert table_counts(ws) == counts
    assert {im.label for im in store.all_images(ws.conn)} == {"normal"}
    assert_disk_matches_db(ws)


# ---- the mixed batch: every bad kind next to good photos ---------------------------------------

MAX_PIXELS = 200_000


@pytest.fixture
def limited_ws(ws_path, monkeypatch):
    monkeypatch.setenv("BOLTSCOPE_MAX_PIXELS", str(MAX_PIXELS))
    monkeypatch.setenv("BOLTSCOPE_MAX_FILE_MB", "1")
    monkeypatch.setenv("BOLTSCOPE_MAX_ZIP_MB", "1")
    workspace = open_workspace(ws_path)
    assert (workspace.settings.max_pixels, workspace.settings.max_file_bytes, workspace.settings.max_zip_bytes) == (
        MAX_PIXELS,
        2**20,
        2**20,
    )
    yield workspace
    workspace.close()


def build_mixed_batch(folder: Path) -> tuple[list[Path], dict[str, str | None]]:
    """Files to import and, per reported file name, the expected refusal key (None: imported)."""
    good_jpeg = make_image(1)
    good_png = make_image(2, fmt="PNG")
    corrupt_png = bytearray(good_png)
    idat = corrupt_png.index(b"IDAT")
    corrupt_png[idat + 4 : idat + 40] = b"\xff" * 36  # compressed pixel data destroyed
    rng = np.random.default_rng(0)
    files_ = {
        "good.jpg": (good_jpeg, None),
        "good.png": (good_png, None),
        "good.bmp": (make_image(3, fmt="BMP"), None),
        "good.tif": (make_image(4, fmt="TIFF"), None),
        "good.webp": (make_image(5, fmt="WEBP", lossless=True), None),
        "empty.jpg": (b"", "reject.empty"),
        "truncated.jpg": (good_jpeg[: len(good_jpeg) // 2], "reject.corrupt"),
        "corrupt.png": (bytes(corrupt_png), "reject.corrupt"),
        "notes.jpg": (b"these are my notes, not a photo\n" * 10, "reject.not_image"),
        "huge_pixels.png": (make_image(6, size=(600, 400), fmt="PNG"), "reject.pixels"),
        "too_big.jpg": (rng.integers(0, 256, 2**20 + 10, dtype=np.uint8).tobytes(), "reject.too_big"),
        "animation.gif": (make_image(7, fmt="GIF"), "reject.extension"),
        "gif_renamed.jpg": (make_image(8, fmt="GIF"), "reject.format"),
        "iphone.jpg": (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200, "reject.heic"),
    }
    paths = [write(folder / name, data) for name, (data, _key) in files_.items()]
    expected = {name: key for name, (_data, key) in files_.items()}

    entries = {
        "ok/normal/inside.jpg": make_image(10),
        "/etc/absolute.jpg": make_image(11),
        "../../escape.jpg": make_image(12),
        "secret.jpg": make_image(13),
        "inner.zip": zip_bytes({"x.jpg": make_image(14)}),
    }
    archive = set_encrypted_flag(zip_bytes(entries), "secret.jpg")
    paths.append(write(folder / "upload.zip", archive))
    expected.update(
        {
            "upload.zip/ok/normal/inside.jpg": None,
            "upload.zip/etc/absolute.jpg": "reject.unsafe_path",
            "upload.zip/../../escape.jpg": "reject.unsafe_path",
            "upload.zip/secret.jpg": "reject.encrypted",
            "upload.zip/inner.zip": "reject.nested_zip",
        }
    )

    zeros = zip_bytes({"zeros.bmp": b"\x00" * (3 * 2**20)}, zipfile.ZIP_DEFLATED)
    assert len(zeros) < 2**20 / 10  # small on disk; only its declared expansion is over the limit
    paths.append(write(folder / "bomb.zip", zeros))
    expected["bomb.zip"] = "reject.zip_too_big"
    paths.append(write(folder / "broken.zip", b"PK\x03\x04 not really a zip"))
    expected["broken.zip"] = "reject.bad_zip"
    return paths, expected


def test_mixed_batch_refuses_each_bad_file_with_its_own_reason(limited_ws, labeler, tmp_path):
    ws = limited_ws
    paths, expected = build_mixed_batch(tmp_path / "batch")
    report = ingest.import_paths(ws, labeler, paths)
    outcomes = outcome_by_file(report)
    # the absolute path is shown without its leading slash (display names drop nothing else)
    outcomes = {name.replace("upload.zip//", "upload.zip/"): o for name, o in outcomes.items()}
    assert set(outcomes) == set(expected)
    for name, key in expected.items():
        outcome = outcomes[name]
        if key is None:
            assert outcome.status == "imported", (name, outcome)
        else:
            assert (outcome.status, outcome.key) == ("rejected", key), (name, outcome)
            assert outcome.message and "{" not in outcome.message  # a filled, readable reason
    # 13 reasons for 15 bad files: a truncated JPEG and a damaged PNG are both 'corrupt' (their
    # details differ), an absolute and a '..' zip path are both 'unsafe_path'
    assert len({key for key in expected.values() if key}) == 13
    assert outcomes["truncated.jpg"].message != outcomes["corrupt.png"].message
    assert "truncated" in outcomes["truncated.jpg"].message
    assert outcomes["huge_pixels.png"].detail["width"] == 600
    assert outcomes["too_big.jpg"].detail["limit_mb"] == 1

    good = sorted(name for name, key in expected.items() if key is None)
    stored = store.all_images(ws.conn)
    assert sorted(im.display_name for im in stored) == good
    assert store.stats(ws.conn)["total"] == len(good) == 6
    assert next(im for im in stored if "inside" in im.display_name).label == "normal"
    assert all(im.width == 64 and im.height == 48 for im in stored)
    assert_disk_matches_db(ws)

    as_json = report.to_json()
    assert as_json["imported"] == 6 and as_json["duplicates"] == 0
    assert len(as_json["rejected"]) == len(expected) - 6
    assert all(set(item) == {"file", "error"} for item in as_json["rejected"])


def test_mixed_batch_as_browser_uploads(limited_ws, labeler, tmp_path):
    paths, expected = build_mixed_batch(tmp_path / "batch")
    report = ingest.import_uploads(limited_ws, labeler, [(p.name, p.read_bytes()) for p in paths])
    outcomes = {name.replace("upload.zip//", "upload.zip/"): o for name, o in outcome_by_file(report).items()}
    assert {name: o.key if o.status == "rejected" else None for name, o in outcomes.items()} == expected
    assert_disk_matches_db(limited_ws)


def test_pixel_bombs_are_refused_without_decoding(ws, admin, tmp_path):
    # 12000 x 10000: over our 100 MP limit; 20000 x 20000: over Pillow's own bomb limit as well
    paths = [
        write(tmp_path / "wide.png", png_header_claiming(12_000, 10_000)),
        write(tmp_path / "bomb.png", png_header_claiming(20_000, 20_000)),
    ]
    outcomes = outcome_by_file(ingest.import_paths(ws, admin, paths))
    assert outcomes["wide.png"].key == "reject.pixels"
    assert outcomes["bomb.png"].key == "reject.bomb"  # Pillow refuses it at open
    assert table_counts(ws) == (0, 0)


def test_heic_files_get_the_heic_reason(ws, admin, tmp_path):
    """iPhone photos arrive as .HEIC: they get the specific advice, not 'unknown file type'."""
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200
    paths = [
        write(tmp_path / "IMG_0001.HEIC", heic),
        write(tmp_path / "IMG_0002.heif", heic),
        write(tmp_path / "renamed.jpg", heic),
    ]
    outcomes = outcome_by_file(ingest.import_paths(ws, admin, paths))
    assert {name: o.key for name, o in outcomes.items()} == dict.fromkeys(
        ["IMG_0001.HEIC", "IMG_0002.heif", "renamed.jpg"], "reject.heic"
    )
    assert "set the camera to JPEG" in outcomes["IMG_0001.HEIC"].message


def test_tiny_image_is_refused(ws, admin, tmp_path):
    path = write(tmp_path / "speck.png", make_image(1, size=(10, 40), fmt="PNG"))
    [outcome] = ingest.import_paths(ws, admin, [path]).outcomes
    assert (outcome.status, outcome.key, outcome.detail["min"]) == ("rejected", "reject.too_small", 16)


def test_missing_path_is_reported(ws, admin, tmp_path):
    [outcome] = ingest.import_paths(ws, admin, [tmp_path / "nowhere"]).outcomes
    assert (outcome.status, outcome.key) == ("rejected", "reject.unreadable")


def test_batch_file_limit(ws_path, admin, tmp_path, monkeypatch):
    monkeypatch.setenv("BOLTSCOPE_MAX_BATCH_FILES", "3")
    ws = open_workspace(ws_path)
    try:
        paths = [write(tmp_path / f"{i}.jpg", make_image(i)) for i in range(5)]
        report = ingest.import_paths(ws, admin, paths)
        assert report.count("imported") == 3
        refused = [o for o in report.outcomes if o.status == "rejected"]
        assert [(o.key, o.detail) for o in refused] == [("reject.too_many", {"limit": 3})]
        assert len(report.outcomes) == 4  # the rest of the batch is not looked at
        assert_disk_matches_db(ws)
    finally:
        ws.close()


# ---- colour modes ----------------------------------------------------------------------------


def test_cmyk_jpeg_is_stored_as_rgb(ws, admin, tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 40, 30)).convert("CMYK").save(buf, "JPEG", quality=95)
    with Image.open(io.BytesIO(buf.getvalue())) as raw:
        assert raw.mode == "CMYK"
    ingest.import_paths(ws, admin, [write(tmp_path / "cmyk.jpg", buf.getvalue())])
    image = only_image(ws)
    with Image.open(ws.layout.cached(image.sha256)) as cached:
        assert cached.mode == "RGB"
        mean = np.asarray(cached, dtype=np.float64).mean(axis=(0, 1))
    assert np.abs(mean - (200, 40, 30)).max() < 12, mean  # colours kept, not inverted


def test_16_bit_png_is_scaled_to_8_bit(ws, admin, tmp_path):
    arr = np.zeros((32, 64), dtype=np.uint16)
    arr[:, 32:] = 65535
    arr[:, 16:32] = 32896  # mid grey in 16 bits
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    with Image.open(io.BytesIO(buf.getvalue())) as raw:
        assert raw.mode == "I;16"
    ingest.import_paths(ws, admin, [write(tmp_path / "deep.png", buf.getvalue())])
    image = only_image(ws)
    with Image.open(ws.layout.cached(image.sha256)) as cached:
        assert cached.mode == "RGB"
        grey = np.asarray(cached, dtype=np.float64).mean(axis=(0, 2))
    assert grey[2:12].mean() < 10
    assert 110 < grey[20:28].mean() < 145
    assert grey[40:62].mean() > 245
    assert 30 < image.brightness < 225


def test_palette_png_with_transparency_is_flattened(ws, admin, tmp_path):
    img = Image.new("P", (48, 32), 0)
    img.putpalette([220, 30, 30, 0, 0, 0] + [0] * 762)
    img.paste(1, (24, 0, 48, 32))  # index 1 (black) marked transparent
    buf = io.BytesIO()
    img.save(buf, "PNG", transparency=1)
    with Image.open(io.BytesIO(buf.getvalue())) as raw:
        assert raw.mode == "P" and raw.info["transparency"] == 1
    ingest.import_paths(ws, admin, [write(tmp_path / "palette.png", buf.getvalue())])
    image = only_image(ws)
    with Image.open(ws.layout.cached(image.sha256)) as cached:
        assert cached.mode == "RGB"
        arr = np.asarray(cached, dtype=np.float64)
    red, clear = arr[:, 2:20].mean(axis=(0, 1)), arr[:, 28:46].mean(axis=(0, 1))
    assert red[0] > 190 and red[1] < 60, red
    assert np.abs(clear - 128).max() < 10, clear  # transparent pixels on mid grey, not black


def test_rgba_and_greyscale_import(ws, admin, tmp_path):
    paths = [
        write(tmp_path / "alpha.png", make_image(1, fmt="PNG", mode="RGBA")),
        write(tmp_path / "grey.jpg", make_image(2, mode="L")),
        write(tmp_path / "grey.tif", make_image(3, fmt="TIFF", mode="L")),
    ]
    assert ingest.import_paths(ws, admin, paths).count("imported") == 3
    for image in store.all_images(ws.conn):
        with Image.open(ws.layout.cached(image.sha256)) as cached:
            assert cached.mode == "RGB" and cached.size == (64, 48)


# ---- large photos are not decoded at full size -------------------------------------------------


def test_12_megapixel_jpeg_is_draft_decoded(ws, admin, tmp_path, monkeypatch):
    img = Image.new("RGB", (4000, 3000), (90, 120, 150))
    img.paste((200, 60, 40), (0, 0, 2000, 1500))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    calls = []
    original_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        before = self.size
        result = original_draft(self, mode, size)
        calls.append((before, mode, size, self.size))
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    ingest.import_paths(ws, admin, [write(tmp_path / "camera.jpg", buf.getvalue())])
    image = only_image(ws)
    assert (image.width, image.height) == (4000, 3000)  # the photo's real size is recorded
    cache_px = ws.settings.cache_px
    assert calls, "Image.draft was never called: the whole photo was decoded"
    before, mode, size, after = calls[0]
    assert (before, mode, size) == ((4000, 3000), "RGB", (cache_px, cache_px))
    assert after[0] * after[1] <= 4000 * 3000 // 4  # decoded at half scale or less
    assert min(after) >= cache_px  # but never below the size asked for
    cached = cached_image(ws, image)
    assert cached.size == (cache_px, cache_px * 3 // 4)
    with Image.open(ws.layout.thumb(image.sha256)) as thumb:
        assert max(thumb.size) == ws.settings.thumb_px
    top_left = np.asarray(cached, dtype=np.int16)[: cache_px // 4, : cache_px // 4].mean(axis=(0, 1))
    assert np.abs(top_left - (200, 60, 40)).max() < 15


# ---- nothing half-written ----------------------------------------------------------------------


def test_failed_insert_adds_no_rows_and_says_why(ws, admin, tmp_path, monkeypatch):
    ingest.import_paths(ws, admin, [write(tmp_path / "before.jpg", make_image(50))], label="normal")
    counts = table_counts(ws)
    for i in range(5):
        write(tmp_path / "batch" / f"{i}.jpg", make_image(i))

    def refuse(*_args, **_kwargs):
        raise StorageError("the workspace database refused the change: disk I/O error")

    monkeypatch.setattr(store, "insert_images", refuse)
    with pytest.raises(StorageError, match="disk I/O error"):
        ingest.import_paths(ws, admin, [tmp_path / "batch"], label="broken")
    assert table_counts(ws) == counts
    assert [im.display_name for im in store.all_images(ws.conn)] == ["before.jpg"]
    assert not list(ws.layout.root.rglob(f"{files.TMP_PREFIX}*"))

    monkeypatch.undo()
    report = ingest.import_paths(ws, admin, [tmp_path / "batch"], label="broken")
    assert report.count("imported") == 5  # files left by the failed try do not get in the way
    assert_disk_matches_db(ws)


def test_failure_inside_the_insert_transaction_rolls_back(ws, admin, tmp_path, monkeypatch):
    """Rows already inserted in the transaction disappear when a later step of it fails."""
    import sqlite3

    paths = [write(tmp_path / f"{i}.jpg", make_image(i)) for i in range(4)]

    def fail(*_args, **_kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "_apply_split_plan", fail)
    with pytest.raises(StorageError, match="disk is full"):
        ingest.import_paths(ws, admin, paths, label="normal")
    assert table_counts(ws) == (0, 0)
    assert not ws.conn.in_transaction
    monkeypatch.undo()
    assert ingest.import_paths(ws, admin, paths, label="normal").count("imported") == 4
    assert table_counts(ws) == (4, 4)
    assert_disk_matches_db(ws)


# ---- export ------------------------------------------------------------------------------------


def test_export_zip_has_split_label_layout(ws, admin, tmp_path):
    expected = make_imagefolder(tmp_path / "data")
    ingest.import_paths(ws, admin, [tmp_path / "data"])
    path = dataset_export.export_zip(ws, admin)
    assert path.parent == ws.layout.exports and not path.name.startswith(files.TMP_PREFIX)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    labelled = [im for im in store.all_images(ws.conn) if im.label]
    assert len(names) == len(labelled) == sum(1 for v in expected.values() if v)
    for image in labelled:
        prefix = f"{image.split}/{image.label}/{image.id:06d}_"
        assert sum(name.startswith(prefix) for name in names) == 1


def test_viewer_cannot_export(ws, viewer, tmp_path):
    with pytest.raises(PermissionDenied):
        dataset_export.export_folder(ws, viewer, tmp_path / "out")
    with pytest.raises(PermissionDenied):
        dataset_export.export_zip(ws, viewer)


def test_safe_filename():
    assert dataset_export.safe_filename("볼트 사진 (1).JPG") == "볼트_사진_1.jpg"
    assert dataset_export.safe_filename("../../etc/passwd") == "etc_passwd"
    assert dataset_export.safe_filename("...") == "photo"


def test_trainer_may_import(ws, tmp_path):
    trainer = auth.Actor("tina", "trainer")
    path = write(tmp_path / "a.jpg", make_image(1))
    assert ingest.import_paths(ws, trainer, [path]).count("imported") == 1


def test_report_lists_files_in_the_order_given_even_with_equal_names(ws, admin):
    from tests.conftest import make_image as picture

    uploads = [
        ("same.jpg", b"not an image"),
        ("ok.png", picture(71, fmt="PNG")),
        ("same.jpg", picture(72)),
        ("z.txt", b"text"),
        ("again.png", picture(71, fmt="PNG")),
    ]
    report = ingest.import_uploads(ws, admin, uploads)
    assert [(o.file, o.status) for o in report.outcomes] == [
        ("same.jpg", "rejected"),
        ("ok.png", "imported"),
        ("same.jpg", "imported"),
        ("z.txt", "rejected"),
        ("again.png", "duplicate"),
    ]


# ---- a split chosen by hand (issue 13, point 8) -------------------------------------------------


def test_hand_labelled_test_folder_uploaded_with_split_test_stays_whole(ws, labeler, admin):
    """20 photos dropped as one test folder (class subfolders) stay in test, locked, through later automatic
    imports and every rebalance: with the test set locked or not, whatever the ratios."""
    classes = ("normal", "broken", "missing")
    folder = [(f"test-set/{classes[i % 3]}/t{i:02d}.jpg", make_image(1000 + i)) for i in range(20)]
    report = ingest.import_uploads(ws, labeler, folder, split="test")
    assert report.count("imported") == 20
    kept = report.imported_ids

    def where() -> set[tuple[str | None, bool]]:
        return {(store.get_image(ws.conn, i).split, store.get_image(ws.conn, i).split_locked) for i in kept}

    assert where() == {("test", True)}
    assert {store.get_image(ws.conn, i).label for i in kept} == set(classes)  # the folders still label them
    for batch in range(3):  # automatic imports of the same classes, which want test photos too
        uploads = [(f"{classes[j % 3]}/a{batch}_{j}.jpg", make_image(5000 + 100 * batch + j)) for j in range(40)]
        assert ingest.import_uploads(ws, labeler, uploads).count("imported") == 40
        assert where() == {("test", True)}
    for ratios, locked in (
        ((0.5, 0.25, 0.25), True),
        ((0.9, 0.05, 0.05), False),
        ((0.34, 0.33, 0.33), False),
        ((0.98, 0.01, 0.01), True),
    ):
        store.save_split_settings(ws.conn, admin, ratios, locked)
        assert where() == {("test", True)}, ratios
    automatic = [im for im in store.all_images(ws.conn) if im.id not in kept]
    assert not any(im.split_locked for im in automatic)
    assert {im.split for im in automatic} == {"train", "val", "test"}  # the automatic ones still rebalance


def test_upload_with_a_split_reports_a_duplicate_stored_in_another_split(ws, labeler):
    first = ingest.import_uploads(ws, labeler, [("a.jpg", make_image(1)), ("b.jpg", make_image(2))], split="train")
    again = ingest.import_uploads(ws, labeler, [("a2.jpg", make_image(1)), ("b2.jpg", make_image(2))], split="train")
    assert [o.key for o in again.outcomes] == ["dup.existing", "dup.existing"]
    moved = ingest.import_uploads(ws, labeler, [("a3.jpg", make_image(1)), ("c.jpg", make_image(3))], split="test")
    outcome = moved.outcomes[0]
    assert (outcome.status, outcome.key, outcome.detail) == (
        "duplicate",
        "dup.other_split",
        {"id": first.imported_ids[0], "split": "train"},
    )
    assert "in the train split; it stays there" in outcome.message
    assert store.get_image(ws.conn, first.imported_ids[0]).split == "train"  # never moved by an upload
    with pytest.raises(ValidationError) as refused:
        ingest.import_uploads(ws, labeler, [("d.jpg", make_image(4))], split="holdout")
    assert refused.value.key == "dataset.error_split"
