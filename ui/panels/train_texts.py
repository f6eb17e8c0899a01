"""Train page texts: a job's kind, status, phase, progress, error and figures in the user's language."""

from __future__ import annotations

from core import i18n, jobs, runs
from ui import components as ui

S = jobs.JobStatus  # short, for the three tables below
STATUS_ICONS = {
    S.QUEUED: ":material/schedule:",
    S.RUNNING: ":material/autorenew:",
    S.DONE: ":material/check_circle:",
    S.FAILED: ":material/error:",
    S.CANCELLED: ":material/block:",
    S.INTERRUPTED: ":material/pause_circle:",
}
# plain characters: tables and select boxes show text, not material icons
STATUS_MARKS = {S.QUEUED: "⏳", S.RUNNING: "▶", S.DONE: "✔", S.FAILED: "✖", S.CANCELLED: "■", S.INTERRUPTED: "⏸"}
STATUS_COLOURS = {
    S.QUEUED: "gray",
    S.RUNNING: "blue",
    S.DONE: "green",
    S.FAILED: "red",
    S.CANCELLED: "orange",
    S.INTERRUPTED: "orange",
}


def kind_text(kind: str) -> str:
    key = f"train.kind.{kind}"
    return ui.tr(key) if key in i18n.EN else kind


def status_text(job: jobs.Job, markdown: bool = False) -> str:
    mark = STATUS_ICONS[job.status] if markdown else STATUS_MARKS[job.status]
    return f"{mark} {ui.tr('job.status.' + job.status)}"


def figure(value: float | int | None, digits: int = 3) -> str:
    """A table figure: rounded, or "—" when there is none."""
    if value is None or value != value:  # None or NaN
        return ui.tr("common.none")
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def phase_text(job: jobs.Job) -> str:
    """What the running job does now, from its progress row: embeddings n/N, fitting, epoch e/E…"""
    p = job.progress
    phase = str(p.get("phase") or "start")
    values = {
        "epoch": int(p.get("epoch") or 0),
        "epochs": int(p.get("epochs") or job.config.epochs),
        "step": int(p.get("step") or 0),
        "steps": int(p.get("steps") or 0),
        "photos": p.get("photos") or 0,
    }
    if phase in ("embed", "fit") and not values["steps"]:
        phase += "_start"
    key = f"train.phase.{phase}"
    return ui.tr(key if key in i18n.EN else "train.phase.start", **values)


def resumed_text(job: jobs.Job) -> str:
    """'resumed from epoch N' (or 'resumed' before the worker has read the checkpoint); '' when not resumed."""
    if not job.resumed:
        return ""
    epoch = job.progress.get("resumed_from")
    if job.status == "queued" or epoch is None:
        return ui.tr("train.resumed")
    return ui.tr("train.resumed.from", epoch=epoch) if int(epoch) else ui.tr("train.resumed.again")


def progress_cell(job: jobs.Job) -> str:
    parts = [phase_text(job)] if job.status == "running" and job.progress else []
    return " · ".join(parts + ([resumed_text(job)] if job.resumed else []))


def error_text(job: jobs.Job) -> str:
    """The job's cause (and hint) in the user's language when the worker left text keys, else as recorded."""
    p = job.progress
    key, hint_key = p.get("error_key"), p.get("hint_key")
    cause = ui.tr(key, **ui.plain_values(p.get("error_detail") or {})) if key in i18n.EN else ui.plain(job.error or "")
    hint = (
        ui.tr(hint_key, **ui.plain_values(p.get("hint_detail") or {}))
        if hint_key in i18n.EN
        else ui.plain(job.error_hint)
        if job.error_hint
        else None
    )
    return cause + (f"\n\n{ui.tr('train.hint', hint=hint)}" if hint else "")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ui.tr("common.none")
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else (f"{minutes} min {secs:02d} s" if minutes else f"{secs} s")


def device(run: runs.Run | None) -> tuple[str, str | None]:
    """The device's short name, and its full description for the tooltip."""
    if run is None:
        return ui.tr("common.none"), None
    return (run.device or "").split(" (")[0] or ui.tr("common.none"), run.device
