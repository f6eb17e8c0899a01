"""`python -m core ...`: the JSON contract and the exit codes other tools rely on."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import ROOT, make_image

STATS_KEYS = {"total", "by_label", "by_split", "unlabeled"}


def run_cli(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOLTSCOPE_")}
    env["BOLTSCOPE_USER"] = "cli-tester"
    return subprocess.run(
        [sys.executable, "-m", "core", "--workspace", str(workspace), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def ok_json(workspace: Path, *args: str) -> object:
    proc = run_cli(workspace, *args)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout  # one JSON document on one line, nothing else on stdout
    return json.loads(lines[0])


def db_counts(workspace: Path) -> tuple[int, int]:
    with sqlite3.connect(workspace / "boltscope.db") as conn:
        return (
            conn.execute("SELECT COUNT(*) FROM images").fetchone()[0],
            conn.execute("SELECT COUNT(*) FROM label_events").fetchone()[0],
        )


def stored_files(workspace: Path) -> dict[str, int]:
    return {
        str(p.relative_to(workspace)): p.stat().st_mtime_ns
        for folder in ("originals", "cache")
        for p in (workspace / folder).rglob("*")
        if p.is_file()
    }


@pytest.fixture
def cli_ws(tmp_path) -> Path:
    return tmp_path / "cli-ws"


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "photos"
    for i, (sub, fmt) in enumerate(
        [("normal", "JPEG"), ("normal", "PNG"), ("정상", "JPEG"), ("missing", "JPEG"), ("broken", "BMP")]
    ):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        ext = {"JPEG": "jpg", "PNG": "png", "BMP": "bmp"}[fmt]
        (folder / sub / f"p{i}.{ext}").write_bytes(make_image(i, fmt=fmt))
    (folder / "normal" / "broken.jpg").write_bytes(b"")
    return folder


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_import_prints_the_contract(cli_ws, photos):
    report = ok_json(cli_ws, "import", str(photos))
    assert set(report) == {"imported", "duplicates", "rejected"}
    assert report["imported"] == 5 and report["duplicates"] == 0
    assert report["rejected"] == [{"file": "broken.jpg", "error": "empty file (0 bytes)"}]
    stats = ok_json(cli_ws, "stats")
    assert stats["by_label"] == {"normal": 3, "broken": 1, "missing": 1}


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_import_label_and_split_options(cli_ws, photos):
    report = ok_json(
        cli_ws, "import", str(photos / "normal"), str(photos / "missing"), "--label", "broken", "--split", "val"
    )
    assert report["imported"] == 3
    stats = ok_json(cli_ws, "stats")
    assert stats["by_label"] == {"normal": 0, "broken": 3, "missing": 0}
    assert stats["by_split"] == {"train": 0, "val": 3, "test": 0}


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_bad_arguments_exit_2(cli_ws, photos):
    proc = run_cli(cli_ws, "import", str(photos), "--label", "rusty")
    assert proc.returncode == 2
    assert "'rusty'" in proc.stderr and "normal, broken, missing" in proc.stderr
    assert proc.stdout == ""
    proc = run_cli(cli_ws, "import", str(photos), "--split", "holdout")
    assert proc.returncode == 2 and "holdout" in proc.stderr
    assert run_cli(cli_ws).returncode == 2  # no command
    assert run_cli(cli_ws, "demo", "--n", "0").returncode == 2
    assert run_cli(cli_ws, "relabel", "12345", "normal").returncode == 2  # no such photo
    assert run_cli(cli_ws, "history", "xyz").returncode == 2
    assert db_counts(cli_ws) == (0, 0)


def test_stats_keys_on_an_empty_workspace(cli_ws):
    assert ok_json(cli_ws, "stats") == {
        "total": 0,
        "by_label": {"normal": 0, "broken": 0, "missing": 0},
        "by_split": {"train": 0, "val": 0, "test": 0},
        "unlabeled": 0,
    }


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_relabel_by_sha_prefix_and_history(cli_ws, photos):
    ok_json(cli_ws, "import", str(photos))
    data = (photos / "missing" / "p3.jpg").read_bytes()
    prefix = hashlib.sha256(data).hexdigest()[:8]
    result = ok_json(cli_ws, "relabel", prefix, "broken", "--user", "kim")
    assert result["label"] == "broken" and result["changed"] is True
    image_id = result["image"]
    assert ok_json(cli_ws, "relabel", str(image_id), "broken") == {
        "image": image_id,
        "label": "broken",
        "changed": False,
    }
    assert run_cli(cli_ws, "relabel", prefix, "rusty").returncode == 2

    events = ok_json(cli_ws, "history", prefix)
    assert isinstance(events, list) and len(events) == 2
    assert [(e["old_label"], e["new_label"], e["user"], e["source"]) for e in events] == [
        (None, "missing", "cli-tester", "import"),
        ("missing", "broken", "kim", "manual"),
    ]
    assert all(e["image_id"] == image_id and e["at"].endswith("Z") for e in events)
    assert ok_json(cli_ws, "history", str(image_id)) == events
    assert ok_json(cli_ws, "stats")["by_label"] == {"normal": 3, "broken": 2, "missing": 0}


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_export_makes_imagefolder_tree(cli_ws, photos, tmp_path):
    ok_json(cli_ws, "import", str(photos))
    (photos / "unsorted").mkdir()
    (photos / "unsorted" / "u.jpg").write_bytes(make_image(77))
    ok_json(cli_ws, "import", str(photos / "unsorted"))  # unlabeled: not exported
    stats = ok_json(cli_ws, "stats")
    out = tmp_path / "export"
    result = ok_json(cli_ws, "export", str(out))
    assert result["exported"] == 5 and sum(result["by_split"].values()) == 5
    exported = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert len(exported) == 5
    for rel in exported:
        assert len(rel.parts) == 3
        assert rel.parts[0] in ("train", "val", "test") and rel.parts[1] in ("normal", "broken", "missing")
    per_label = {label: sum(1 for r in exported if r.parts[1] == label) for label in stats["by_label"]}
    assert per_label == stats["by_label"] == {"normal": 3, "broken": 1, "missing": 1}
    assert dict(Counter(r.parts[0] for r in exported)) == result["by_split"]
    originals = {
        hashlib.sha256(p.read_bytes()).hexdigest()
        for p in photos.rglob("*")
        if p.is_file() and p.stat().st_size and p.parent.name != "unsorted"
    }
    assert {hashlib.sha256((out / r).read_bytes()).hexdigest() for r in exported} == originals
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".export-")]

    before = sorted(out.rglob("*"))
    again = run_cli(cli_ws, "export", str(out))
    assert again.returncode == 2 and "not empty" in again.stderr
    assert sorted(out.rglob("*")) == before


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_export_into_an_existing_empty_folder(cli_ws, photos, tmp_path):
    # a folder named after a label labels the photos directly in it (`import photos/normal`)
    assert ok_json(cli_ws, "import", str(photos / "normal"))["imported"] == 2
    assert ok_json(cli_ws, "stats")["by_label"]["normal"] == 2
    assert ok_json(cli_ws, "import", str(photos / "missing"), "--label", "missing")["imported"] == 1
    out = tmp_path / "empty"
    out.mkdir()
    assert ok_json(cli_ws, "export", str(out))["exported"] == 3
    exported = sorted(p.relative_to(out).parts[1:] for p in out.rglob("*") if p.is_file())
    assert [label for label, _name in exported].count("normal") == 2
    assert [name for label, name in exported if label == "missing"][0].endswith("_p3.jpg")


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_demo_gives_each_class_in_turn(cli_ws):
    report = ok_json(cli_ws, "demo", "--n", "9")
    assert report == {"imported": 9, "duplicates": 0, "rejected": []}
    stats = ok_json(cli_ws, "stats")
    assert stats["total"] == 9 and stats["unlabeled"] == 0
    assert stats["by_label"] == {"normal": 3, "broken": 3, "missing": 3}
    assert ok_json(cli_ws, "demo", "--n", "9") == {"imported": 0, "duplicates": 9, "rejected": []}
    assert ok_json(cli_ws, "demo", "--n", "3", "--seed", "1")["imported"] == 3


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_import_screws_train_twice(cli_ws, screws_dir):
    train = screws_dir / "train"
    report = ok_json(cli_ws, "import", str(train))
    assert report == {"imported": 400, "duplicates": 0, "rejected": []}
    stats = ok_json(cli_ws, "stats")
    assert stats["total"] == 400 and stats["unlabeled"] == 0
    assert stats["by_label"] == {"normal": 261, "broken": 0, "missing": 139}
    assert sum(stats["by_split"].values()) == 400
    counts, files = db_counts(cli_ws), stored_files(cli_ws)
    assert counts == (400, 400)  # one first label event per photo
    assert len(files) == 3 * 400  # original, cached copy, thumbnail

    again = ok_json(cli_ws, "import", str(train))
    assert again == {"imported": 0, "duplicates": 400, "rejected": []}
    assert ok_json(cli_ws, "stats") == stats
    assert db_counts(cli_ws) == counts
    assert stored_files(cli_ws) == files


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_two_imports_of_the_same_folder_at_once(cli_ws, tmp_path):
    """Two operators import the same folder at the same moment: every photo is stored once."""
    folder = tmp_path / "shared"
    for i in range(24):
        sub = folder / ("normal" if i % 3 else "missing")
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{i}.jpg").write_bytes(make_image(200 + i))
    ok_json(cli_ws, "stats")  # create the workspace first
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOLTSCOPE_")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "core", "--workspace", str(cli_ws), "import", str(folder), "--user", user],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for user in ("ann", "ben")
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert sum(r["imported"] for r in results) == 24
    assert sum(r["duplicates"] for r in results) == 24
    assert all(r["rejected"] == [] for r in results)
    stats = ok_json(cli_ws, "stats")
    assert stats["total"] == 24 and stats["by_label"] == {"normal": 16, "broken": 0, "missing": 8}
    assert db_counts(cli_ws) == (24, 24)
    files = stored_files(cli_ws)
    assert len(files) == 3 * 24 and not [f for f in files if ".tmp-" in f]
