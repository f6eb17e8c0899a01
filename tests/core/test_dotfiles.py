"""Hidden files and OS metadata at import: a valid `.hidden_photo.jpg` is reported as skipped (hidden file) by the
CLI's folder and zip import and by the browser upload alike (core decides, not the page); macOS AppleDouble
`._name` files, `__MACOSX/` folders, `.DS_Store` and hidden folders (`.thumbnails/`) are left out without being
reported as broken images."""

from __future__ import annotations

import json

from core import cli, ingest, store
from tests.conftest import make_image
from tests.core import malformed_corpus
from tests.core.train_helpers import ADMIN

APPLEDOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + b"\x00" * 50  # a resource fork, not a JPEG


zip_bytes = malformed_corpus._zip  # entries -> the bytes of a zip holding them


def entries() -> dict[str, bytes]:
    return {
        "normal/ok.jpg": make_image(1),
        "normal/.hidden_photo.jpg": make_image(2),
        "normal/._ok.jpg": APPLEDOUBLE,
        "normal/.DS_Store": b"\x00\x00\x00\x01Bud1",
        "__MACOSX/normal/._ok.jpg": APPLEDOUBLE,
        "normal/.thumbnails/t.jpg": make_image(3),
    }


def outcomes(report_json: dict) -> tuple[int, list[str], list[str]]:
    """(imported, skipped file base names, rejected files)"""
    skipped = sorted(item["file"].rstrip("/").rsplit("/", 1)[-1] for item in report_json.get("skipped", []))
    return report_json["imported"], skipped, [item["file"] for item in report_json["rejected"]]


def test_the_cli_reports_a_hidden_photo_as_skipped_and_leaves_metadata_out(ws, tmp_path, capsys):
    folder = tmp_path / "in"
    for name, data in entries().items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    assert cli.main(["--workspace", str(ws.layout.root), "import", str(folder)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert outcomes(report) == (1, [".hidden_photo.jpg"], [])
    assert all("hidden file" in item["reason"] for item in report["skipped"])
    assert [i.display_name for i in store.all_images(ws.conn)] == ["ok.jpg"]
    # the same photo named on the command line by itself
    assert cli.main(["--workspace", str(ws.layout.root), "import", str(folder / "normal" / ".hidden_photo.jpg")]) == 0
    assert outcomes(json.loads(capsys.readouterr().out)) == (0, [".hidden_photo.jpg"], [])


def test_the_browser_upload_says_the_same_as_the_cli(ws):
    uploads = [(name, data) for name, data in entries().items() if not name.startswith("__MACOSX")]
    report = ingest.import_uploads(ws, ADMIN, uploads)  # what the Dataset page calls with the dropped files
    hidden = [o for o in report.outcomes if o.status == "skipped"]
    assert [o.file for o in hidden] == [".hidden_photo.jpg"]
    assert {o.key for o in hidden} == {"skip.hidden"} and report.count("rejected") == 0
    assert report.count("imported") == 1 and report.to_json()["skipped"][0]["reason"].startswith("hidden file")
    assert [i.display_name for i in store.all_images(ws.conn)] == ["ok.jpg"]


def test_a_zip_from_a_mac_skips_its_metadata_and_reports_the_hidden_photo(ws, tmp_path, capsys):
    archive = zip_bytes(entries())
    by_upload = ingest.import_uploads(ws, ADMIN, [("photos.zip", archive)]).to_json()
    assert outcomes(by_upload) == (1, [".hidden_photo.jpg"], [])
    (tmp_path / "photos.zip").write_bytes(archive)
    assert cli.main(["--workspace", str(ws.layout.root), "import", str(tmp_path / "photos.zip")]) == 0
    by_cli = json.loads(capsys.readouterr().out)
    assert outcomes(by_cli) == (0, [".hidden_photo.jpg"], []) and by_cli["duplicates"] == 1
    assert by_cli["skipped"] == by_upload["skipped"]
