"""A workspace opened for use: its settings, its file layout and its database connection."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass

from core import config, db
from core.files import Layout


@dataclass
class Workspace:
    settings: config.Settings
    layout: Layout
    conn: sqlite3.Connection

    def close(self) -> None:
        self.conn.close()


def open_workspace(path: str | os.PathLike[str] | None = None) -> Workspace:
    """Create the folders and the database when missing, migrate, and return the open workspace."""
    settings = config.load_settings(path)
    layout = Layout(settings.workspace)
    layout.ensure()
    return Workspace(settings, layout, db.connect(layout.db_path))
