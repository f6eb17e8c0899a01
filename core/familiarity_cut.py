"""The workspace's familiarity cut: past this percentile of the validation photos' distances a photo is unfamiliar
("check the photo", never a pass). Light tier: the setting and its change; core.ml.familiarity measures."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core import audit, auth, db, store
from core.errors import ValidationError

SETTING = "familiarity_percentile"
DEFAULT_PERCENTILE = 99.0
INDEX_FILE = "familiarity.npz"  # in the run's folder: what core.ml.familiarity builds and reads
LOWEST, HIGHEST = 90.0, 99.99  # below 90 one photo in ten is held back; 100 would hold back none


def cut_percentile(conn: sqlite3.Connection) -> float:
    """The stored cut, or the default when none is stored (or a stored one is out of range)."""
    try:
        value = float(store.get_setting(conn, SETTING, str(DEFAULT_PERCENTILE)))
    except ValueError:
        return DEFAULT_PERCENTILE
    return value if LOWEST <= value <= HIGHEST else DEFAULT_PERCENTILE


def stamp(conn: sqlite3.Connection, run_dir: Path) -> str:
    """What a loaded model's familiarity depends on, so a page reloads the model when it changes: the cut and the
    run's index file (built again after damage)."""
    try:
        built = (run_dir / INDEX_FILE).stat().st_mtime_ns
    except OSError:
        built = 0
    return f"{cut_percentile(conn)}:{built}"


def set_cut_percentile(conn: sqlite3.Connection, actor: auth.Actor, value: float) -> float:
    """An admin sets the cut (audited); refused outside LOWEST..HIGHEST, nothing changed."""
    auth.require(actor, "settings", conn)
    if isinstance(value, bool) or not isinstance(value, int | float) or not LOWEST <= value <= HIGHEST:
        raise ValidationError(
            f"the familiarity cut {value!r} must be a percentile from {LOWEST:g} to {HIGHEST:g}",
            key="familiarity.error.cut",
            value=value,
            low=f"{LOWEST:g}",
            high=f"{HIGHEST:g}",
        )
    with db.transaction(conn):
        old = cut_percentile(conn)
        store.put_setting(conn, SETTING, repr(float(value)))
        audit.record(conn, actor.name, "settings", SETTING, old=old, new=float(value))
    return float(value)
