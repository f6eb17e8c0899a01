"""The label set: the configured label names, their English and Korean display names and their order
(the labels table); adding a label, and checking one against the set."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from core import audit, auth, db
from core.errors import ValidationError


@dataclass(frozen=True)
class Label:
    name: str
    position: int
    display_en: str
    display_ko: str

    def display(self, lang: str) -> str:
        return self.display_ko if lang == "ko" else self.display_en


def list_labels(conn: sqlite3.Connection) -> list[Label]:
    return [Label(**dict(row)) for row in conn.execute("SELECT * FROM labels ORDER BY position")]


def add_label(conn: sqlite3.Connection, actor: auth.Actor, name: str, en: str, ko: str) -> Label:
    auth.require(actor, "settings")
    clean = name.strip().lower()
    if not clean.isidentifier():
        raise ValidationError(f"label name {name!r} must be letters, digits and _ (e.g. 'corroded')")
    with db.transaction(conn):
        if conn.execute("SELECT 1 FROM labels WHERE name = ?", (clean,)).fetchone():
            raise ValidationError(f"label {clean!r} exists already")
        pos = conn.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM labels").fetchone()[0]
        conn.execute("INSERT INTO labels VALUES (?, ?, ?, ?)", (clean, pos, en.strip() or clean, ko.strip() or clean))
        audit.record(conn, actor.name, "settings", "labels", added=clean, en=en.strip(), ko=ko.strip())
    return Label(clean, pos, en.strip() or clean, ko.strip() or clean)


def check_label(conn: sqlite3.Connection, label: str | None) -> str | None:
    """Return the label if it is configured; raise naming the valid ones otherwise."""
    if label is None:
        return None
    names = [lab.name for lab in list_labels(conn)]
    if label not in names:
        raise ValidationError(
            f"label {label!r} is not configured; valid labels: {', '.join(names)}",
            key="dataset.error_label",
            label=label,
            valid=", ".join(names),
        )
    return label
