"""Runs one training run for the worker and for DDP rank 0: reports through the job's row, records how it ended.

The worker (one process) and `core.ml.ddp` (rank 0 under torchrun) share this module, so a run reports its
progress, keeps its epochs and stores its results the same way whichever process trained it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple, NotRequired, TypedDict

import numpy as np
import torch

from core import calibration, db, jobs, runs
from core.errors import CoreError
from core.ml import checkpoint, runtime, trainer
from core.workspace import Workspace

log = logging.getLogger(__name__)
OUTCOME = "outcome.json"  # what DDP rank 0 leaves for the worker that launched torchrun
StoredRow = tuple[int, str, str, Sequence[float]]  # image id, split, predicted class, probabilities


class Outcome(NamedTuple):
    """How a job ended: its status, the cause in plain words and a hint (None when it needs none)."""

    status: str
    error: str | None = None
    hint: str | None = None


DONE = Outcome("done")


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


def context(ws: Workspace, run: runs.Run, hooks: trainer.Hooks, **dist: int) -> trainer.RunContext:
    """The trainer's view of a run: its frozen snapshot, the cached photos, its folder (dist: rank, world, …)."""
    items = runs.snapshot(ws.conn, run.id)
    return trainer.RunContext(
        run.config,
        run.class_names,
        items,
        [ws.layout.cached(it.sha256) for it in items],
        ws.layout.run_dir(run.id),
        ws.layout.weights,
        hooks,
        **dist,
    )


def record_run(ws: Workspace, run: runs.Run, result: trainer.RunResult) -> None:
    """Store a finished run: best epoch, val/test figures, its checkpoint (relative to the workspace), predictions
    calibrated by the temperature fitted on its validation photos (kept in the checkpoint and the run)."""
    temperature, predictions = calibrated(run.class_names, runs.snapshot(ws.conn, run.id), result.predictions)
    path = ws.layout.run_dir(run.id) / result.checkpoint
    checkpoint.set_temperature(path, temperature)
    runs.finish_run(
        ws.conn,
        run.id,
        result.best_epoch,
        result.results,
        str(path.relative_to(ws.settings.workspace)),
        predictions,
        result.cpu_ms,
        temperature,
    )


def calibrated(
    class_names: Sequence[str], items: Sequence[runs.SnapshotItem], predictions: Sequence[StoredRow]
) -> tuple[float, list[StoredRow]]:
    """The temperature fitted on the validation rows (their labels from the run's snapshot), and every row with
    its probabilities at that temperature; the predicted class (the arg-max) is the same at any temperature."""
    index = {name: n for n, name in enumerate(class_names)}
    truth = {it.image_id: index[it.label] for it in items if it.label in index}
    val = [(truth[i], probs) for i, split, _, probs in predictions if split == "val" and i in truth]
    t = calibration.fit_temperature(np.array([p for _, p in val]), [c for c, _ in val]) if val else 1.0
    if t == 1.0:
        return 1.0, list(predictions)
    probs = calibration.rescale(np.array([p for *_, p in predictions]), t)
    return t, [(i, split, label, row.tolist()) for (i, split, label, _), row in zip(predictions, probs, strict=True)]


def run_here(
    ws: Workspace,
    run: runs.Run,
    hooks: DbHooks,
    fit: Callable[[trainer.RunContext], trainer.RunResult] = trainer.run_training,
) -> None:
    """Train in this process (fit: the trainer, or the quick model's probe), then record the finished run."""
    result = fit(context(ws, run, hooks))
    runs.set_device(ws.conn, run.id, runtime.describe_device(), {**run.weights, **result.weights})
    record_run(ws, run, result)
    keep_familiarity(ws, run, hooks)
    keep_heatmap_check(ws, run.id)


def keep_heatmap_check(ws: Workspace, run_id: int) -> None:
    """Measure the finished run's heatmap check now (Evaluate shows it; Diagnose and Review warn with it); a
    failure never fails the trained run (`evaluate RUN` measures it then)."""
    from core.ml import heatmap_check

    try:
        heatmap_check.ensure(ws, run_id)
    except (CoreError, OSError, RuntimeError, ValueError) as exc:
        log.warning("heatmap check of run %d left for later: %s", run_id, exc)


def keep_familiarity(ws: Workspace, run: runs.Run, hooks: trainer.Hooks) -> None:
    """Build the finished run's familiarity index now, in the background job, so the first diagnosis with it
    does not wait for it; a failure here never fails the trained run (the index is built on first use then)."""
    from core.ml import predict  # loading the run's model builds and keeps its index

    hooks.progress({"phase": "familiarity", "epoch": run.config.epochs, "epochs": run.config.epochs})
    try:
        predict.load_predictor(ws, run.id)
    except (CoreError, OSError, RuntimeError) as exc:
        log.warning("familiarity index of run %d left for its first use: %s", run.id, exc)


def outcome_of(exc: BaseException, hooks: DbHooks, config_batch: int) -> Outcome:
    """How a job that ended with an exception ended: status, plain-words cause, hint."""
    if isinstance(exc, trainer.Cancelled):
        return (
            Outcome("interrupted", "the worker was asked to shut down")
            if hooks.sigterm
            else Outcome("cancelled", str(exc))
        )
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        smaller = max(1, config_batch // 2)
        return Outcome("failed", "the GPU ran out of memory", f"try batch size {smaller} (or a smaller image size)")
    if isinstance(exc, CoreError):
        return Outcome("failed", str(exc))
    return Outcome("failed", f"{type(exc).__name__}: {exc}")


class OutcomeKeys(TypedDict):
    """Why a job failed, as text keys and their values (jobs.finish keeps them; the page translates)."""

    error_key: NotRequired[str]
    error_detail: NotRequired[dict[str, object]]
    hint_key: NotRequired[str]
    hint_detail: NotRequired[dict[str, object]]


def outcome_keys(exc: BaseException, hooks: DbHooks, config_batch: int) -> OutcomeKeys:
    """outcome_of's cause and hint as text keys and values (jobs.finish keeps them), for the page to translate."""
    if isinstance(exc, trainer.Cancelled) and hooks.sigterm:
        return OutcomeKeys(error_key="train.error.shutdown")
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return OutcomeKeys(
            error_key="train.error.gpu_memory",
            hint_key="train.hint.smaller_batch",
            hint_detail={"batch": max(1, config_batch // 2)},
        )
    key = getattr(exc, "key", None)
    return OutcomeKeys(error_key=key, error_detail=dict(getattr(exc, "detail", {}))) if key else OutcomeKeys()
