"""A damaged workspace database (issue 14, point 9): five kinds of damage made on a real workspace file. Opening
it raises StorageError("error.workspace_corrupt") naming the file and the way back (restore from a backup);
every CLI command exits 1 with that one-line message, no traceback; the dashboard shows it translated (EN, KO)
to a visitor who is not signed in, with no traceback or server path; and Streamlit never sends error details."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import cli, db, i18n, store
from core.errors import StorageError
from core.workspace import open_workspace
from tests.conftest import ROOT

PAGE = 4096
GARBAGE = bytes([0xA5]) * PAGE  # 0xA5 is no b-tree page type: a page that cannot be read


def _fill(ws_root: Path, first: int, n: int) -> None:
    ws = open_workspace(ws_root)
    try:
        with db.transaction(ws.conn):
            ws.conn.executemany(
                "INSERT INTO audit (at, user, action, target, details) VALUES (?, ?, ?, ?, '{}')",
                [(db.now_iso(), f"user{i % 40}", "relabel", f"photo {i} " * 4) for i in range(first, first + n)],
            )
            ws.conn.executemany(
                "INSERT INTO images (sha256, ext, display_name, origin, source, width, height, bytes, phash, "
                "brightness, sharpness, label, added_by, added_at) VALUES (?, '.jpg', ?, 'o', 'import', 64, 48, "
                "100, '0000000000000000', 0.5, 0.5, 'normal', 'alice', ?)",
                [(f"{i:064x}", f"bolt_{i}.jpg", db.now_iso()) for i in range(first, first + n)],
            )
    finally:
        ws.close()


def _root_page(db_file: Path, name: str) -> int:
    with sqlite3.connect(db_file) as conn:
        return conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]


def truncated(db_file: Path) -> None:
    """The file cut off half way (a copy stopped by a full disk)."""
    with open(db_file, "r+b") as handle:
        handle.truncate(db_file.stat().st_size // 2 + 100)


def garbage_page(db_file: Path) -> None:
    """Garbage bytes over one page in the middle of the file."""
    with open(db_file, "r+b") as handle:
        handle.seek(PAGE * (db_file.stat().st_size // PAGE // 2))
        handle.write(GARBAGE)


def zeroed_header(db_file: Path) -> None:
    """The 100-byte header zeroed: "file is not a database"."""
    with open(db_file, "r+b") as handle:
        handle.write(bytes(100))


def damaged_index(db_file: Path) -> None:
    """The root page of an index (audit by user and action) overwritten."""
    page = _root_page(db_file, "audit_user_action")
    with open(db_file, "r+b") as handle:
        handle.seek(PAGE * (page - 1))
        handle.write(GARBAGE)


def foreign_wal(db_file: Path) -> None:
    """The database file replaced by another, smaller one (an old copy put back by hand) while the live
    workspace's write-ahead log stayed beside it: the log's pages do not match the file."""
    other = db_file.parent.parent / "other"
    open_workspace(other).close()
    ws = open_workspace(db_file.parent)
    ws.conn.execute("PRAGMA wal_autocheckpoint = 0")
    with db.transaction(ws.conn):
        ws.conn.execute("INSERT INTO audit (at, user, action, target) SELECT at, user, action, target FROM audit")
        ws.conn.execute("UPDATE images SET label = 'broken' WHERE id % 2 = 0")
    wal = Path(f"{db_file}-wal").read_bytes()
    ws.close()
    shutil.copyfile(other / "boltscope.db", db_file)
    Path(f"{db_file}-wal").write_bytes(wal)


KINDS = (truncated, garbage_page, zeroed_header, damaged_index, foreign_wal)


@pytest.fixture
def healthy(tmp_path) -> Path:
    root = tmp_path / "plant"
    _fill(root, 0, 2500)
    return root


@pytest.fixture(params=KINDS, ids=[kind.__name__ for kind in KINDS])
def corrupt(request, healthy) -> Path:
    request.param(healthy / "boltscope.db")
    return healthy


def test_opening_a_damaged_database_names_the_file_and_the_way_back(corrupt):
    with pytest.raises(StorageError) as caught:
        open_workspace(corrupt)
    exc = caught.value
    assert exc.key == "error.workspace_corrupt"
    assert exc.detail["file"] == "boltscope.db" and exc.detail["workspace"] == "plant"
    assert str(corrupt / "boltscope.db") in str(exc) and "is damaged" in str(exc)
    assert f"python -m core --workspace {corrupt} restore BACKUP_DIR --force" in str(exc)
    for lang in ("en", "ko"):  # the translated form names only the workspace folder, never a server path
        text = i18n.t(exc.key, lang, **exc.detail)
        assert "boltscope.db" in text and "restore BACKUP_DIR" in text and str(corrupt.parent) not in text


def test_a_healthy_workspace_still_opens_and_its_check_is_cheap(healthy):
    ws = open_workspace(healthy)
    try:
        assert store.stats(ws.conn)["total"] == 2500
        assert ws.conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    finally:
        ws.close()


def test_damage_met_after_the_workspace_opened_is_the_same_clear_error(healthy):
    ws = open_workspace(healthy)
    try:
        db_file = healthy / "boltscope.db"
        pages = db_file.stat().st_size // PAGE
        with open(db_file, "r+b") as handle:  # the second half of the file overwritten, under an open workspace
            handle.seek(PAGE * (pages // 2))
            handle.write(GARBAGE * (pages - pages // 2))
        ws.conn.execute("PRAGMA shrink_memory")  # drop the pages the opening check left in the cache
        with pytest.raises(StorageError) as caught:
            for table in ("images", "audit"):
                ws.conn.execute(f"SELECT * FROM {table}").fetchall()
        assert caught.value.key == "error.workspace_corrupt"
        with pytest.raises(StorageError) as caught:
            store.stats(ws.conn)
        assert caught.value.key == "error.workspace_corrupt"
    finally:
        ws.close()


COMMANDS = (
    ["stats"],
    ["jobs"],
    ["audit"],
    ["audit", "--csv"],
    ["doctor", "--dry-run"],
    ["doctor"],
    ["user", "list"],
    ["history", "1"],
    ["relabel", "1", "broken"],
    ["demo", "--n", "1"],
    ["export", "OUT"],
    ["evaluate", "1"],
    ["suspects"],
    ["promote", "1"],
    ["cancel", "1"],
    ["resume", "1"],
    ["backup", "OUT"],
    ["worker", "--once"],
    ["import", "OUT"],
    ["predict", "OUT"],
    ["train"],
    ["quick-model"],
)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_on_a_damaged_database_exits_1_with_the_message(command, healthy, tmp_path, capsys):
    zeroed_header(healthy / "boltscope.db")
    argv = [str(tmp_path / "out") if word == "OUT" else word for word in command]
    assert cli.main(["--workspace", str(healthy), *argv]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: the workspace database ") and err.count("\n") == 1, err
    assert "is damaged" in err and "restore BACKUP_DIR --force" in err and "Traceback" not in err


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS, ids=[kind.__name__ for kind in KINDS])
def test_the_real_cli_prints_one_line_and_no_traceback(kind, healthy, tmp_path):
    kind(healthy / "boltscope.db")
    photo = tmp_path / "bolt.jpg"
    photo.write_bytes(b"not read: the workspace fails first")
    for argv in (["import", str(photo)], ["doctor", "--dry-run"]):
        done = subprocess.run(
            [sys.executable, "-m", "core", "--workspace", str(healthy), *argv],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith("error: the workspace database ") and done.stderr.count("\n") == 1
        assert "Traceback" not in done.stderr and "restore BACKUP_DIR --force" in done.stderr


def test_streamlit_never_sends_error_details_to_a_browser():
    with open(ROOT / ".streamlit" / "config.toml", "rb") as handle:
        client = tomllib.load(handle)["client"]
    assert client["showErrorDetails"] == "none"  # false would still show the traceback ("stacktrace")
    assert client["showErrorLinks"] is False  # no links out of an air-gapped plant LAN under an error


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_dashboard_shows_a_visitor_the_translated_message_and_no_traceback(lang, healthy, monkeypatch):
    monkeypatch.delenv("BOLTSCOPE_NO_AUTH", raising=False)  # a visitor who has not signed in
    monkeypatch.setenv("BOLTSCOPE_WORKSPACE", str(healthy))
    garbage_page(healthy / "boltscope.db")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception, at.exception
    shown = [element.value for element in at.error]
    expected = i18n.t("error.workspace_corrupt", lang, file="boltscope.db", workspace="plant", reason="")
    assert len(shown) == 1 and expected.split("(")[0] in shown[0], shown
    assert "restore BACKUP_DIR --force" in shown[0]
    page = repr(at._tree)
    assert "Traceback" not in page and 'File "/' not in page and str(healthy.parent) not in page


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_damage_met_by_a_page_of_an_open_session_is_shown_translated(lang, healthy, monkeypatch):
    """The database may be damaged after the session opened it: the page's error is shown in the user's
    language by app.py, not as Streamlit's redacted English exception."""
    from core import store
    from core.errors import StorageError

    monkeypatch.setenv("BOLTSCOPE_NO_AUTH", "1")
    monkeypatch.setenv("BOLTSCOPE_WORKSPACE", str(healthy))

    def damaged(*_args, **_kwargs):
        raise StorageError(
            "damaged", key="error.workspace_corrupt", file="boltscope.db", workspace="plant", reason="malformed"
        )

    monkeypatch.setattr(store, "stats", damaged)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception, at.exception
    expected = i18n.t("error.workspace_corrupt", lang, file="boltscope.db", workspace="plant", reason="malformed")
    assert any(expected in element.value for element in at.error), [e.value for e in at.error]
