"""The training queue: submit, claim, heartbeat, cancel, resume, reconcile stale jobs, start a worker.

The app and the worker talk only through these rows. A job is claimed in one transaction, so two
workers never run the same job; a job whose worker died is found by its stale heartbeat.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TypedDict

from core import audit, auth, db
from core.config import TrainConfig
from core.errors import NotFoundError, ValidationError
from core.workspace import Workspace, open_workspace

log = logging.getLogger(__name__)


class JobStatus(StrEnum):
    """A job's status (the jobs table's CHECK constraint in db.py lists the same six); compares equal to its text."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
TERMINAL = tuple(status for status in JobStatus if status not in ACTIVE)  # done, failed, cancelled, interrupted
RESUMABLE = (JobStatus.CANCELLED, JobStatus.INTERRUPTED, JobStatus.FAILED)
HEARTBEAT_S = 2.0
STALE_S = 10.0  # a running job's heartbeat older than this, with its process gone: interrupted
DEAD_S = 600.0  # older than this, even a process we cannot check (another host) counts as gone
LAUNCH_GRACE_S = 20.0  # a worker just launched needs this long to announce itself
SUPERVISE_S = 5.0  # the supervisor looks for dead workers this often, whether or not a page is open


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    status: str
    config: TrainConfig
    sweep: str | None
    created_by: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    heartbeat_at: str | None
    worker_pid: int | None
    worker_host: str | None
    cancel_requested: bool
    attempts: int
    progress: dict[str, object]
    error: str | None
    error_hint: str | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def resumed(self) -> bool:
        """Queued again after it had ended: run more than once, or waiting with a start time already set."""
        return self.attempts > 1 or (self.status == "queued" and self.started_at is not None)


def _job(row: sqlite3.Row) -> Job:
    values = dict(row)
    values["config"] = TrainConfig.from_dict(json.loads(values["config"]))
    values["progress"] = json.loads(values["progress"] or "{}")
    values["cancel_requested"] = bool(values["cancel_requested"])
    return Job(**values)


def _ago(seconds: float) -> str:
    return db.iso(datetime.now(UTC) - timedelta(seconds=seconds))


def submit(conn: sqlite3.Connection, actor: auth.Actor, config: TrainConfig, sweep: str | None = None) -> int:
    """Queue a job; returns its id."""
    auth.require(actor, "train", conn)
    with db.transaction(conn):
        cur = conn.execute(
            "INSERT INTO jobs (kind, status, config, sweep, created_by, created_at) VALUES (?, 'queued', ?, ?, ?, ?)",
            (config.kind, json.dumps(config.to_dict()), sweep, actor.name, db.now_iso()),
        )
        teacher = {"teacher_run": config.teacher_run} if config.teacher_run else {}
        audit.record(
            conn,
            actor.name,
            "train",
            f"job {cur.lastrowid}",
            kind=config.kind,
            arch=config.arch,
            sweep=sweep,
            **teacher,
        )
    log.info("job %s queued by %s: %s", cur.lastrowid, actor.name, config.arch)
    return int(cur.lastrowid)


def submit_sweep(
    conn: sqlite3.Connection, actor: auth.Actor, base: TrainConfig, batch_sizes: list[int], lrs: list[float]
) -> list[int]:
    """Queue one job per (batch size, learning rate) pair, tagged with a common sweep name."""
    if not batch_sizes or not lrs:
        raise ValidationError(
            "a sweep needs at least one batch size and one learning rate", key="train.error.sweep_empty"
        )
    if len(batch_sizes) * len(lrs) > 36:
        raise ValidationError(
            f"a sweep of {len(batch_sizes) * len(lrs)} runs is too large; at most 36",
            key="train.error.sweep_large",
            n=len(batch_sizes) * len(lrs),
            most=36,
        )
    configs = [TrainConfig.from_dict({**base.to_dict(), "batch_size": b, "lr": lr}) for b in batch_sizes for lr in lrs]
    name = f"sweep-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    return [submit(conn, actor, cfg, sweep=name) for cfg in configs]


def get_job(conn: sqlite3.Connection, job_id: int) -> Job:
    row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"job {job_id} does not exist", key="train.error.no_job", id=job_id)
    return _job(row)


def list_jobs(conn: sqlite3.Connection, limit: int = 200) -> list[Job]:
    return [_job(r) for r in conn.execute("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (limit,))]


def claim(conn: sqlite3.Connection, job_id: int | None = None) -> Job | None:
    """Atomically take the oldest queued job (or the given one) for this process; None if none is queued."""
    with db.transaction(conn):
        sql = "SELECT id FROM jobs WHERE status = 'queued'" + (" AND id = ?" if job_id else "") + " ORDER BY id LIMIT 1"
        row = conn.execute(sql, (job_id,) if job_id else ()).fetchone()
        if row is None:
            return None
        now = db.now_iso()
        conn.execute(
            "UPDATE jobs SET status = 'running', worker_pid = ?, worker_host = ?, heartbeat_at = ?,"
            " started_at = COALESCE(started_at, ?), attempts = attempts + 1, error = NULL, error_hint = NULL,"
            " progress = '{}' WHERE id = ?",
            (os.getpid(), socket.gethostname(), now, now, row["id"]),
        )
    return get_job(conn, row["id"])


def heartbeat(conn: sqlite3.Connection, job_id: int, progress: dict[str, object] | None = None) -> bool:
    """Mark the job alive (and store its progress); True when a cancel was requested."""
    with db.transaction(conn):
        if progress is None:
            conn.execute("UPDATE jobs SET heartbeat_at = ? WHERE id = ?", (db.now_iso(), job_id))
        else:
            conn.execute(
                "UPDATE jobs SET heartbeat_at = ?, progress = ? WHERE id = ?",
                (db.now_iso(), json.dumps(progress), job_id),
            )
        row = conn.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return bool(row and row[0])


def finish(
    conn: sqlite3.Connection,
    job_id: int,
    status: str,
    error: str | None = None,
    hint: str | None = None,
    keys: dict[str, object] | None = None,
) -> None:
    """Record how a job ended. keys: the error and hint as text keys and values (error_key, error_detail,
    hint_key, hint_detail), kept with the job's last progress so the page shows them translated."""
    if status not in TERMINAL:
        raise ValidationError(f"a job cannot finish as {status!r}", key="train.error.bad_final", status=status)
    with db.transaction(conn):
        if keys:
            row = conn.execute("SELECT progress FROM jobs WHERE id = ?", (job_id,)).fetchone()
            progress = {**json.loads((row and row[0]) or "{}"), **keys}
            conn.execute("UPDATE jobs SET progress = ? WHERE id = ?", (json.dumps(progress, default=str), job_id))
        conn.execute(
            "UPDATE jobs SET status = ?, finished_at = ?, error = ?, error_hint = ?, cancel_requested = 0 WHERE id = ?",
            (status, db.now_iso(), error, hint, job_id),
        )


def cancel(conn: sqlite3.Connection, actor: auth.Actor, job_id: int) -> str:
    """Cancel a queued job at once, or ask a running one to stop at its next check; returns the status."""
    auth.require(actor, "cancel", conn)
    with db.transaction(conn):
        job = get_job(conn, job_id)
        if job.status == "queued":
            conn.execute("UPDATE jobs SET status = 'cancelled', finished_at = ? WHERE id = ?", (db.now_iso(), job_id))
            audit.record(conn, actor.name, "cancel", f"job {job_id}", was="queued")
            return "cancelled"
        if job.status != "running":
            raise ValidationError(
                f"job {job_id} is {job.status}; only queued or running jobs can be cancelled",
                key="train.error.not_cancellable",
                id=job_id,
            )
        conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
        audit.record(conn, actor.name, "cancel", f"job {job_id}", was="running")
    log.info("job %s: cancel requested by %s", job_id, actor.name)
    return "running"


def resume(conn: sqlite3.Connection, actor: auth.Actor, job_id: int) -> None:
    """Queue a cancelled, interrupted or failed job again; the worker continues from its last checkpoint."""
    auth.require(actor, "train", conn)
    with db.transaction(conn):
        job = get_job(conn, job_id)
        if job.status not in RESUMABLE:
            key = "train.error.resume_done" if job.status == "done" else "train.error.resume_active"
            raise ValidationError(
                f"job {job_id} is {job.status}; only {', '.join(RESUMABLE)} jobs can be resumed", key=key, id=job_id
            )
        conn.execute(
            "UPDATE jobs SET status = 'queued', finished_at = NULL, cancel_requested = 0, error = NULL,"
            " error_hint = NULL WHERE id = ?",
            (job_id,),
        )
        audit.record(conn, actor.name, "resume", f"job {job_id}", was=job.status)
    log.info("job %s: resumed by %s", job_id, actor.name)


def process_alive(pid: int | None) -> bool:
    """True if pid runs on this host and is not a zombie."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def reconcile(conn: sqlite3.Connection) -> list[int]:
    """Mark running jobs whose worker is gone as interrupted; returns their ids."""
    host = socket.gethostname()
    rows = conn.execute(
        "SELECT id, worker_pid, worker_host, heartbeat_at FROM jobs WHERE status = 'running'"
        " AND (heartbeat_at IS NULL OR heartbeat_at < ?)",
        (_ago(STALE_S),),
    ).fetchall()
    gone = []
    for row in rows:
        local = row["worker_host"] == host
        if (local and not process_alive(row["worker_pid"])) or (row["heartbeat_at"] or "") < _ago(DEAD_S):
            gone.append(row["id"])
    for job_id in gone:
        with db.transaction(conn):
            conn.execute(
                "UPDATE jobs SET status = 'interrupted', finished_at = ?, error = ?,"
                " progress = json_set(COALESCE(progress, '{}'), '$.error_key', 'train.error.worker_gone')"
                " WHERE id = ? AND status = 'running'",
                (db.now_iso(), "the worker process stopped without finishing (killed or crashed)", job_id),
            )
        log.warning("job %s: worker gone, marked interrupted", job_id)
    return gone


def supervise(ws_path: str | os.PathLike[str] | None, stop: threading.Event, interval: float = SUPERVISE_S) -> None:
    """Until stop is set: every interval seconds, mark the jobs of dead workers interrupted (reconcile), so a
    worker killed with -9 is found within STALE_S + interval even when no page asks. Own connection."""
    ws: Workspace | None = None
    last_error = ""
    try:
        while not stop.is_set():
            try:
                ws = ws or open_workspace(ws_path)
                reconcile(ws.conn)
                last_error = ""
            except Exception as exc:  # a locked or damaged database now must not end the watch for good
                if str(exc) != last_error:  # once per new error, not every interval
                    log.warning("job supervisor: reconcile failed (trying again every %s s): %s", interval, exc)
                last_error = str(exc)
            stop.wait(interval)
    finally:
        if ws is not None:
            ws.close()


def start_supervisor(
    ws_path: str | os.PathLike[str] | None, interval: float = SUPERVISE_S
) -> tuple[threading.Thread, threading.Event]:
    """The supervisor as a daemon thread; set the returned event (then join) to stop it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=supervise, args=(ws_path, stop, interval), name="boltscope-job-supervisor", daemon=True
    )
    thread.start()
    return thread, stop


# ---- workers ---------------------------------------------------------------------------------


def worker_beat(conn: sqlite3.Connection) -> None:
    now = db.now_iso()
    with db.transaction(conn):
        conn.execute(
            "INSERT INTO workers (host, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (host, pid) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
            (socket.gethostname(), os.getpid(), now, now),
        )


def worker_gone(conn: sqlite3.Connection) -> None:
    with db.transaction(conn):
        conn.execute("DELETE FROM workers WHERE host = ? AND pid = ?", (socket.gethostname(), os.getpid()))


class Worker(TypedDict):
    """A row of the workers table: a worker process and its last sign of life."""

    host: str
    pid: int
    started_at: str
    heartbeat_at: str


def live_workers(conn: sqlite3.Connection) -> list[Worker]:
    """Workers with a fresh heartbeat whose process (when on this host) still runs."""
    host = socket.gethostname()
    rows = conn.execute("SELECT * FROM workers WHERE heartbeat_at >= ?", (_ago(STALE_S),)).fetchall()
    return [Worker(**r) for r in rows if r["host"] != host or process_alive(r["pid"])]


def ensure_worker(ws: Workspace) -> bool:
    """Start a detached worker when jobs are queued and no worker is alive; True when one was started."""
    reconcile(ws.conn)
    # every open Train page asks every 2 s: answer the common case with a read, no write lock
    if not ws.conn.execute("SELECT 1 FROM jobs WHERE status = 'queued' LIMIT 1").fetchone():
        return False
    with db.transaction(ws.conn):
        queued = ws.conn.execute("SELECT COUNT(*) FROM jobs WHERE status = 'queued'").fetchone()[0]
        if not queued or live_workers(ws.conn):
            return False
        last = ws.conn.execute("SELECT value FROM settings WHERE key = 'worker_launched_at'").fetchone()
        if last and last[0] > _ago(LAUNCH_GRACE_S):
            return False
        ws.conn.execute(
            "INSERT INTO settings (key, value) VALUES ('worker_launched_at', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (db.now_iso(),),
        )
    launch_worker(ws.settings.workspace, ws.layout.logs / "worker.log")
    return True


def launch_worker(workspace: Path, log_file: Path) -> subprocess.Popen[bytes]:
    """A worker in its own session, so it outlives the Streamlit process that started it."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "core", "--workspace", str(workspace), "worker"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            cwd=str(Path(__file__).resolve().parent.parent),
        )
    log.info("started worker pid %s for %s", proc.pid, workspace)
    return proc


def log_tail(path: Path, lines: int = 40) -> str:
    """The last lines of a job log (read from the end, so a long log costs nothing)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
