"""The stored inspection as read back: its alignment, its positions with their corrections (new events, oldest
first) and the verdicts, as judged and as corrected."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.align import Point
from core.evaluation import NORMAL  # the one label that is not a defect
from core.stations import Box


def verdict_of(alignment_ok: bool, labels: Sequence[tuple[str | None, bool]], unfamiliar: bool = False) -> str:
    """check: alignment unsure or a position without a label; defect: any (label, defect) a defect; check again
    when a position's crop is unlike anything the model was trained on (never a pass); else pass."""
    if not alignment_ok or any(label is None for label, _ in labels):
        return "check"
    if any(defect for _, defect in labels):
        return "defect"
    return "check" if unfamiliar else "pass"


def is_unfamiliar(familiarity: dict[str, object] | None) -> bool:
    """A position's stored familiarity ({"percentile", "unfamiliar"}; None: its model had no index) says so."""
    return bool(familiarity and familiarity.get("unfamiliar"))


@dataclass(frozen=True)
class AlignmentRecord:
    """The stored alignment (core.align.Alignment's fields, without its translation key)."""

    ok: bool
    score: float
    method: str
    matrix: tuple[float, float, float, float, float, float]
    reason: str | None


@dataclass(frozen=True)
class Correction:
    id: int
    position: str
    old_label: str | None
    new_label: str
    note: str
    user: str
    at: str


@dataclass(frozen=True)
class StoredPosition:
    name: str
    box: Box
    corners: tuple[Point, Point, Point, Point]
    label: str | None  # as judged
    defect: bool  # as judged
    probs: dict[str, float]
    unfit: str | None
    corrections: tuple[Correction, ...] = ()
    familiarity: dict[str, object] | None = None  # {"percentile", "unfamiliar"} as judged; None: not measured

    @property
    def unfamiliar(self) -> bool:
        """Unlike the training photos and not corrected by a person since."""
        return not self.corrections and is_unfamiliar(self.familiarity)

    @property
    def current_label(self) -> str | None:
        return self.corrections[-1].new_label if self.corrections else self.label

    @property
    def current_defect(self) -> bool:
        return self.current_label != NORMAL if self.corrections else self.defect


@dataclass(frozen=True)
class Inspection:
    id: int
    at: str
    inspector: str
    station_id: int  # the station version used
    station: str
    station_version: int
    asset: str
    photo_sha256: str
    photo_ext: str
    photo_name: str
    size: tuple[int, int]
    verdict: str  # as judged when recorded
    run_id: int
    threshold: float | None
    alignment: AlignmentRecord
    positions: tuple[StoredPosition, ...]

    @property
    def current_verdict(self) -> str:
        """The verdict with the corrections: a corrected position counts as judged by a person."""
        labels = [(p.current_label, p.current_defect) for p in self.positions]
        unfamiliar = any(p.unfamiliar for p in self.positions)
        if all(p.corrections for p in self.positions):
            return verdict_of(True, labels)
        return verdict_of(self.alignment.ok, labels, unfamiliar)
