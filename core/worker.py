"""The worker process (`python -m core worker`): claims queued jobs, heartbeats, honours cancel, trains.

It writes only database rows and workspace files; the app learns everything from them.
"""

from __future__ import annotations

import json
import logging
import platform
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import torch
import torchvision

from core import db, jobs, runs, runtime, trainer, weights
from core.errors import CoreError
from core.workspace import Workspace

log = logging.getLogger(__name__)
OUTCOME = "outcome.json"  # what DDP rank 0 leaves for the worker that launched torchrun


class DbHooks(trainer.Hooks):
    """Progress and stop requests through the job's row; a thread heartbeats on its own connection."""

    def __init__(self, db_path: Path, job_id: int, run_id: int | None, report_progress: bool = True) -> None:
        self.db_path, self.job_id, self.run_id = db_path, job_id, run_id
        self.stop_event, self.sigterm = threading.Event(), False
        self._report = report_progress
        self._progress: dict[str, object] | None = None
        self._kept: dict[str, object] = {}  # shown with every progress report: "resumed_from"
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-job-{job_id}", daemon=True)

    def __enter__(self) -> DbHooks:
        self.conn = db.connect(self.db_path)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_beating()
        self.conn.close()

    def stop_beating(self) -> None:
        """End the heartbeat and store the last progress now, so no late beat overwrites the job's final row."""
        if self._done.is_set():
            return
        self._done.set()
        self._thread.join(timeout=10)
        if self._report and self._progress is not None:
            try:
                jobs.heartbeat(self.conn, self.job_id, self._progress)
            except CoreError as exc:
                log.warning("last progress of job %s not stored: %s", self.job_id, exc)

    def _beat(self) -> None:
        conn = db.connect(self.db_path)
        try:
            while not self._done.wait(jobs.HEARTBEAT_S):
                if not self.db_path.exists():  # the workspace was removed under us: stop, write nothing more
                    log.error("workspace database %s is gone; stopping job %s", self.db_path, self.job_id)
                    self.sigterm = True
                    self.stop_event.set()
                    return
                try:
                    if jobs.heartbeat(conn, self.job_id, self._progress if self._report else None):
                        self.stop_event.set()
                    jobs.worker_beat(conn)
                except CoreError as exc:  # a locked database for a moment: the next beat tries again
                    log.warning("heartbeat of job %s failed: %s", self.job_id, exc)
        finally:
            conn.close()

    def progress(self, values: dict[str, object]) -> None:
        self._progress = {**values, **self._kept}

    def resumed(self, epoch: int) -> None:
        self._kept["resumed_from"] = epoch
        if self._progress is not None:  # None: nothing reported yet (a DDP launcher leaves that to rank 0)
            self._progress = {**self._progress, **self._kept}
        if self._report:  # at once: the page says "resumed from epoch N" from the first second
            try:
                jobs.heartbeat(self.conn, self.job_id, self._progress or dict(self._kept))
            except CoreError as exc:  # the next beat carries it
                log.warning("progress of job %s not stored: %s", self.job_id, exc)

    def should_stop(self) -> bool:
        return self.stop_event.is_set()

    def epoch_done(self, epoch: int, values: dict[str, float | int | None]) -> None:
        runs.record_epoch(self.conn, self.run_id, epoch, values)


def describe_device() -> str:
    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.device_count()}× {torch.cuda.get_device_name(0)})"
    return f"cpu ({torch.get_num_threads()} threads, {platform.processor() or platform.machine()})"


def versions() -> dict[str, str]:
    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__}


def processes_for(config_nproc: int, batch_size: int) -> int:
    """--nproc wins; otherwise one process per visible GPU when the batch divides evenly over them."""
    if config_nproc > 1:
        return config_nproc
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return gpus if gpus > 1 and batch_size % gpus == 0 else 1


@contextmanager
def job_log(path: Path):
    """Everything logged while the job runs also goes to its own file, which the Train page tails."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(min(previous, logging.INFO) if previous else logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        handler.close()


def context(ws: Workspace, run: runs.Run, hooks: trainer.Hooks, **dist: int) -> trainer.RunContext:
    items = runs.snapshot(ws.conn, run.id)
    return trainer.RunContext(run.config, run.class_names, items, [ws.layout.cached(it.sha256) for it in items],
                              ws.layout.run_dir(run.id), ws.layout.weights, hooks, **dist)


def _new_run(ws: Workspace, job: jobs.Job) -> runs.Run:
    found = weights.find_weights(job.config.arch, ws.layout.weights).to_json()
    run = runs.create_run(ws.conn, job.id, job.config, {"pretrained": job.config.pretrained, **found}, versions())
    log.info("run %d: snapshot of %d photos, classes %s", run.id, len(runs.snapshot(ws.conn, run.id)),
             ", ".join(run.class_names))
    return run


def outcome_of(exc: BaseException, hooks: DbHooks, config_batch: int) -> tuple[str, str, str | None]:
    """(status, plain-words cause, hint) for a job that ended with an exception."""
    if isinstance(exc, trainer.Cancelled):
        return ("interrupted", "the worker was asked to shut down", None) if hooks.sigterm else \
            ("cancelled", str(exc), None)
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        smaller = max(1, config_batch // 2)
        return "failed", "the GPU ran out of memory", f"try batch size {smaller} (or a smaller image size)"
    if isinstance(exc, CoreError):
        return "failed", str(exc), None
    return "failed", f"{type(exc).__name__}: {exc}", None


def outcome_keys(exc: BaseException, hooks: DbHooks, config_batch: int) -> dict[str, object]:
    """outcome_of's cause and hint as text keys and values (jobs.finish keeps them), for the page to translate."""
    if isinstance(exc, trainer.Cancelled) and hooks.sigterm:
        return {"error_key": "train.error.shutdown"}
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return {"error_key": "train.error.gpu_memory", "hint_key": "train.hint.smaller_batch",
                "hint_detail": {"batch": max(1, config_batch // 2)}}
    key = getattr(exc, "key", None)
    return {"error_key": key, "error_detail": dict(getattr(exc, "detail", {}))} if key else {}


def run_job(ws: Workspace, job: jobs.Job, shutdown: Shutdown | None = None) -> str:
    """Run one claimed job to its end and record how it ended; returns the final status."""
    runtime.tune_allocator()
    with job_log(ws.layout.job_log(job.id)), DbHooks(ws.layout.db_path, job.id, None) as hooks, \
            (shutdown or Shutdown()).watching(hooks):
        log.info("job %d (%s, %s), attempt %d, on %s", job.id, job.kind, job.config.arch, job.attempts,
                 describe_device())
        if job.attempts > 1:  # the trainer says from which epoch once it has read the last checkpoint
            log.info("job %d resumed (attempt %d)", job.id, job.attempts)
            hooks.resumed(0)
        try:
            status, error, hint, keys = "done", None, None, {}
            if job.kind == "suspects":
                _run_suspects(ws, job, hooks)
            else:
                run = runs.run_for_job(ws.conn, job.id) or _new_run(ws, job)
                hooks.run_id = run.id
                runs.set_device(ws.conn, run.id, describe_device(), run.weights)
                nproc = processes_for(job.config.nproc, job.config.batch_size)
                if nproc > 1 and job.kind == "train":
                    status, error, hint = _run_ddp(ws, job, run, nproc, hooks)
                else:
                    _run_here(ws, run, hooks)
        except Exception as exc:  # the job ends here, whatever the cause: record it for the user, keep the log
            status, error, hint = outcome_of(exc, hooks, job.config.batch_size)
            keys = outcome_keys(exc, hooks, job.config.batch_size)
            if status == "failed":
                log.exception("job %d failed", job.id)
        hooks.stop_beating()
        jobs.finish(ws.conn, job.id, status, error, hint, keys)
        log.info("job %d %s%s", job.id, status, f": {error}" if error else "")
    return status


def _run_suspects(ws: Workspace, job: jobs.Job, hooks: DbHooks) -> None:
    """Score every labelled photo for a likely label error and store the scores for the Review page."""
    from core import embed, review

    hooks.progress({"phase": "embed", "step": 0, "steps": 0})
    found = embed.suspects(ws, arch=job.config.arch, seed=job.config.seed, hooks=hooks)
    review.save_suspects(ws.conn, found, job.id)
    log.info("suspects: %d photos scored, %d flagged", len(found), sum(1 for s in found if s["flagged"]))


def _run_here(ws: Workspace, run: runs.Run, hooks: DbHooks) -> None:
    ctx = context(ws, run, hooks)
    if run.kind == "quick":
        from core import embed

        result = embed.run_quick(ctx, ws.conn)
    else:
        result = trainer.run_training(ctx)
    runs.set_device(ws.conn, run.id, describe_device(), {**run.weights, **result.weights})
    runs.finish_run(ws.conn, run.id, result.best_epoch, result.results,
                    str(ctx.run_dir.relative_to(ws.settings.workspace) / result.checkpoint), result.predictions,
                    result.cpu_ms)


def _run_ddp(ws: Workspace, job: jobs.Job, run: runs.Run, nproc: int, hooks: DbHooks) -> tuple[str, str, str | None]:
    """Launch the trainer under torchrun; rank 0 reports epochs and results, then leaves an outcome file."""
    outcome = ws.layout.run_dir(run.id) / OUTCOME
    outcome.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "core.ddp", "--workspace", str(ws.settings.workspace), "--job", str(job.id)]
    log.info("DistributedDataParallel: %d processes", nproc)
    with open(ws.layout.job_log(job.id), "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        stop_sent = None
        while proc.poll() is None:
            time.sleep(0.5)
            if hooks.should_stop() and stop_sent is None:
                stop_sent = time.monotonic()  # rank 0 sees the same flag; give it time to stop cleanly
            if stop_sent and time.monotonic() - stop_sent > 30:
                proc.terminate()
    if not outcome.exists():
        return "failed", f"the distributed trainer exited with code {proc.returncode} without a result", None
    result = json.loads(outcome.read_text())
    return result["status"], result.get("error"), result.get("hint")


class Shutdown:
    """SIGTERM (a service stop) while this is installed: the running job ends at its next step as
    interrupted (resumable) and the worker leaves its loop. The previous handler comes back after."""

    def __init__(self) -> None:
        self.requested = False
        self._hooks: DbHooks | None = None
        self._previous = None

    def __enter__(self) -> Shutdown:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None

    def _handle(self, _signum, _frame) -> None:
        self.requested = True
        if self._hooks is not None:
            self._hooks.sigterm = True
            self._hooks.stop_event.set()

    @contextmanager
    def watching(self, hooks: DbHooks):
        """While a job runs, a SIGTERM also stops it; installs the handler itself when nobody has."""
        owned = self._previous is None
        if owned:
            self.__enter__()
        self._hooks = hooks
        if self.requested:
            self._handle(signal.SIGTERM, None)
        try:
            yield self
        finally:
            self._hooks = None
            if owned:
                self.__exit__()


def serve(ws: Workspace, once: bool = False, idle_exit_s: float = 60.0) -> int:
    """Claim and run jobs until none is queued for idle_exit_s (0: forever); --once runs at most one job."""
    jobs.reconcile(ws.conn)
    jobs.worker_beat(ws.conn)
    ran, idle_since, last_beat = 0, time.monotonic(), 0.0
    with Shutdown() as shutdown:
        try:
            while not shutdown.requested:
                job = jobs.claim(ws.conn)
                if job is not None:
                    run_job(ws, job, shutdown)
                    ran, idle_since = ran + 1, time.monotonic()
                    if once:
                        break
                    continue
                if once or (idle_exit_s and time.monotonic() - idle_since > idle_exit_s):
                    break
                if time.monotonic() - last_beat > jobs.HEARTBEAT_S:
                    jobs.worker_beat(ws.conn)
                    jobs.reconcile(ws.conn)
                    last_beat = time.monotonic()
                time.sleep(0.5)
        finally:
            jobs.worker_gone(ws.conn)
    return ran
