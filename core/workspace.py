"""A workspace opened for use: its settings, its file layout and its database connection."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass

from core import config, db, files
from core.files import Layout


@dataclass
class Workspace:
    settings: config.Settings
    layout: Layout
    conn: sqlite3.Connection
    read_only: bool = False  # opened for reading only (a read-only disk): every write is refused

    def close(self) -> None:
        self.conn.close()


def open_workspace(path: str | os.PathLike[str] | None = None, read_only: bool = False) -> Workspace:
    """Create the folders and the database when missing, migrate, and return the open workspace. read_only: open
    an existing one for reading only, creating and changing nothing (stats, audit, doctor --dry-run and backup on
    a read-only disk)."""
    settings = config.load_settings(path)
    layout = Layout(settings.workspace)
    if read_only:
        return Workspace(settings, layout, db.connect(layout.db_path, read_only=True), read_only=True)
    layout.ensure()
    # on a full disk SQLite cannot even make its -shm file: the reserve is given back (sign-in must still work)
    conn, _ = files.retry_with_reserve(layout.root, lambda: db.connect(layout.db_path))
    return Workspace(settings, layout, conn)


def writable(path: str | os.PathLike[str] | None = None) -> bool:
    """Whether the workspace folder can be written (False on a read-only mount); a missing one can be made."""
    root = config.load_settings(path).workspace
    return not root.is_dir() or os.access(root, os.W_OK)


def keep_reserve(ws: Workspace) -> bool:
    """Make the disk reserve (files.ensure_reserve) when it is missing and there is room again; True when held."""
    if ws.read_only:
        return False
    return files.ensure_reserve(ws.layout.root, ws.settings.reserve_mb, ws.settings.min_free_mb)


def disk_low(ws: Workspace) -> float | None:
    """The free MB on the workspace's disk when it is nearly full (under the imports' floor, or the reserve is
    gone and there is no room to make it again); None when all is well or it cannot be told."""
    try:
        free = files.free_mb(ws.layout.root)
    except OSError:
        return None
    floor, reserve = ws.settings.min_free_mb, ws.settings.reserve_mb
    if free < floor or (not files.has_reserve(ws.layout.root) and free < floor + reserve):
        return round(free, 1)
    return None
