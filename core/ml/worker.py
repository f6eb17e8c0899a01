"""The worker process (`python -m core worker`): claims queued jobs, heartbeats, honours cancel, trains.

It writes only database rows and workspace files; the app learns everything from them.
"""

from __future__ import annotations

import functools
import json
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from core import jobs, runs, weights
from core.ml import runner, runtime
from core.workspace import Workspace

log = logging.getLogger(__name__)


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


JobKind = Callable[[Workspace, jobs.Job, runner.DbHooks], runner.Outcome]
JOB_KINDS: dict[str, JobKind] = {}  # job kind (config.RUN_KINDS) -> what runs a claimed job of that kind


def job_kind(name: str) -> Callable[[JobKind], JobKind]:
    """Register what runs the jobs of one kind; a second registration of a kind is a mistake and raises."""

    def register(run: JobKind) -> JobKind:
        if name in JOB_KINDS:
            raise ValueError(f"job kind {name!r} is already registered (by {JOB_KINDS[name].__name__})")
        JOB_KINDS[name] = run
        return run

    return register


def run_job(ws: Workspace, job: jobs.Job, shutdown: Shutdown | None = None) -> str:
    """Run one claimed job to its end and record how it ended; returns the final status."""
    runtime.tune_allocator()
    with (
        job_log(ws.layout.job_log(job.id)),
        runner.DbHooks(ws.layout.db_path, job.id, None) as hooks,
        (shutdown or Shutdown()).watching(hooks),
    ):
        log.info(
            "job %d (%s, %s), attempt %d, on %s",
            job.id,
            job.kind,
            job.config.arch,
            job.attempts,
            runtime.describe_device(),
        )
        if job.attempts > 1:  # the trainer says from which epoch once it has read the last checkpoint
            log.info("job %d resumed (attempt %d)", job.id, job.attempts)
            hooks.resumed(0)
        try:
            (status, error, hint), keys = JOB_KINDS[job.kind](ws, job, hooks), {}
        except Exception as exc:  # the job ends here, whatever the cause: record it for the user, keep the log
            status, error, hint = runner.outcome_of(exc, hooks, job.config.batch_size)
            keys = runner.outcome_keys(exc, hooks, job.config.batch_size)
            if status == "failed":
                log.exception("job %d failed", job.id)
        hooks.stop_beating()
        jobs.finish(ws.conn, job.id, status, error, hint, keys)
        log.info("job %d %s%s", job.id, status, f": {error}" if error else "")
    return status


@job_kind("suspects")
def _run_suspects(ws: Workspace, job: jobs.Job, hooks: runner.DbHooks) -> runner.Outcome:
    """Score every labelled photo for a likely label error and store the scores for the Review page."""
    from core import review
    from core.ml import embed

    hooks.progress({"phase": "embed", "step": 0, "steps": 0})
    found = embed.find_suspects(ws, arch=job.config.arch, seed=job.config.seed, hooks=hooks)
    review.save_suspects(ws.conn, found, job.id)
    log.info("suspects: %d photos scored, %d flagged", len(found), sum(1 for s in found if s["flagged"]))
    return runner.DONE


@job_kind("quick")
def _run_quick(ws: Workspace, job: jobs.Job, hooks: runner.DbHooks) -> runner.Outcome:
    """The quick model: a probe on cached embeddings, always in this process."""
    from core.ml import embed

    runner.run_here(ws, _start_run(ws, job, hooks), hooks, functools.partial(embed.run_quick, conn=ws.conn))
    return runner.DONE


@job_kind("train")
def _run_train(ws: Workspace, job: jobs.Job, hooks: runner.DbHooks) -> runner.Outcome:
    """Training, here or under torchrun with one process per GPU (or --nproc)."""
    run = _start_run(ws, job, hooks)
    nproc = runtime.processes_for(job.config.nproc, job.config.batch_size)
    if nproc > 1:
        return _run_ddp(ws, job, run, nproc, hooks)
    runner.run_here(ws, run, hooks)
    return runner.DONE


@job_kind("distill")
def _run_distill(ws: Workspace, job: jobs.Job, hooks: runner.DbHooks) -> runner.Outcome:
    """A distillation: the teacher's targets, then the student trains on them here, as an ordinary run."""
    from core.ml import distill

    runner.run_here(ws, _start_run(ws, job, hooks), hooks, functools.partial(distill.run_distillation, ws=ws))
    return runner.DONE


def _start_run(ws: Workspace, job: jobs.Job, hooks: runner.DbHooks) -> runs.Run:
    """The job's run: the one an earlier attempt froze, or a new snapshot; its epochs report to it."""
    run = runs.run_for_job(ws.conn, job.id) or _new_run(ws, job)
    hooks.run_id = run.id
    runs.set_device(ws.conn, run.id, runtime.describe_device(), run.weights)
    return run


def _new_run(ws: Workspace, job: jobs.Job) -> runs.Run:
    found = weights.find_weights(job.config.arch, ws.layout.weights).to_json()
    run = runs.create_run(
        ws.conn, job.id, job.config, {"pretrained": job.config.pretrained, **found}, runtime.versions()
    )
    log.info(
        "run %d: snapshot of %d photos, classes %s",
        run.id,
        len(runs.snapshot(ws.conn, run.id)),
        ", ".join(run.class_names),
    )
    return run


def _run_ddp(ws: Workspace, job: jobs.Job, run: runs.Run, nproc: int, hooks: runner.DbHooks) -> runner.Outcome:
    """Launch the trainer under torchrun; rank 0 reports epochs and results, then leaves an outcome file."""
    outcome = ws.layout.run_dir(run.id) / runner.OUTCOME
    outcome.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "core.ml.ddp",
        "--workspace",
        str(ws.settings.workspace),
        "--job",
        str(job.id),
    ]
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
        return runner.Outcome("failed", f"the distributed trainer exited with code {proc.returncode} without a result")
    result = json.loads(outcome.read_text())
    return runner.Outcome(result["status"], result.get("error"), result.get("hint"))


class Shutdown:
    """SIGTERM (a service stop) while this is installed: the running job ends at its next step as
    interrupted (resumable) and the worker leaves its loop. The previous handler comes back after."""

    def __init__(self) -> None:
        self.requested = False
        self._hooks: runner.DbHooks | None = None
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
    def watching(self, hooks: runner.DbHooks):
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
