"""Training commands of `python -m core`: train, quick-model, distill, jobs, cancel, resume, worker."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import NotRequired, TypedDict

from core import auth, cli, config, distillation, jobs, runs, zoo
from core.workspace import Workspace


class SplitFigures(TypedDict):
    accuracy: float | None
    macro_f1: float | None


class WaitResult(TypedDict):
    """What `train --wait` and `quick-model --wait` print."""

    job_id: int
    run_id: int | None
    status: str
    best_epoch: int | None
    val: SplitFigures
    test: SplitFigures
    error: NotRequired[str]  # with its hint, when the job failed


def result_json(ws: Workspace, job_id: int) -> WaitResult:
    """The --wait answer: run id, status, best epoch, validation and test figures."""
    job = jobs.get_job(ws.conn, job_id)
    run = runs.run_for_job(ws.conn, job_id)
    out = WaitResult(
        job_id=job_id,
        run_id=run.id if run else None,
        status=job.status,
        best_epoch=run.best_epoch if run else None,
        val=SplitFigures(accuracy=run.val_accuracy if run else None, macro_f1=run.val_macro_f1 if run else None),
        test=SplitFigures(accuracy=run.test_accuracy if run else None, macro_f1=run.test_macro_f1 if run else None),
    )
    if job.error:
        out["error"] = job.error + (f" ({job.error_hint})" if job.error_hint else "")
    return out


def run_or_wait(ws: Workspace, job_id: int, poll_s: float = 1.0) -> str:
    """Run the job in this process when no worker is alive; otherwise wait for a worker to finish it."""
    jobs.reconcile(ws.conn)
    if not jobs.live_workers(ws.conn):
        job = jobs.claim(ws.conn, job_id)
        if job is not None:
            from core.ml import worker  # the torch tier, only when this process trains

            return worker.run_job(ws, job)
    while (status := jobs.get_job(ws.conn, job_id).status) not in jobs.TERMINAL:
        time.sleep(poll_s)
        jobs.reconcile(ws.conn)
    return status


def _finish(ws: Workspace, args: argparse.Namespace, job_id: int) -> int:
    if not args.wait:
        if not args.no_start:
            jobs.ensure_worker(ws)
        cli.print_json({"job_id": job_id})
        return 0
    status = run_or_wait(ws, job_id)
    cli.print_json(result_json(ws, job_id))
    return 0 if status == "done" else 1


def cmd_train(ws: Workspace, args: argparse.Namespace) -> int:
    values = {
        k: getattr(args, k)
        for k in ("arch", "epochs", "batch_size", "lr", "optimizer", "augment", "seed", "scheduler", "nproc", "balance")
        if getattr(args, k) is not None
    }
    values["image_size"] = args.image_size or zoo.get_arch(args.arch).default_size
    values["pretrained"] = not args.no_pretrained
    cfg = config.TrainConfig(**values)
    return _finish(ws, args, jobs.submit(ws.conn, auth.local_actor(args.user), cfg))


def cmd_quick(ws: Workspace, args: argparse.Namespace) -> int:
    cfg = config.TrainConfig(
        arch=args.arch,
        kind="quick",
        epochs=1,
        warmup_epochs=0,
        image_size=args.image_size or config.QUICK_IMAGE_SIZE,
        seed=args.seed,
    )
    return _finish(ws, args, jobs.submit(ws.conn, auth.local_actor(args.user), cfg))


def cmd_distill(ws: Workspace, args: argparse.Namespace) -> int:
    actor = auth.local_actor(args.user)
    job_id = distillation.submit_distillation(ws.conn, actor, args.student, args.image_size, args.epochs, args.teacher)
    return _finish(ws, args, job_id)


class JobLine(TypedDict):
    """One job as `jobs` prints it."""

    job_id: int
    kind: str
    status: str
    arch: str
    run_id: int | None
    sweep: str | None
    created_by: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    attempts: int
    progress: dict[str, object]
    error: str | None
    hint: str | None


def job_json(ws: Workspace, job: jobs.Job) -> JobLine:
    run = runs.run_for_job(ws.conn, job.id)
    return JobLine(
        job_id=job.id,
        kind=job.kind,
        status=job.status,
        arch=job.config.arch,
        run_id=run.id if run else None,
        sweep=job.sweep,
        created_by=job.created_by,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        attempts=job.attempts,
        progress=job.progress,
        error=job.error,
        hint=job.error_hint,
    )


def cmd_jobs(ws: Workspace, _args: argparse.Namespace) -> int:
    jobs.reconcile(ws.conn)
    cli.print_json([job_json(ws, job) for job in jobs.list_jobs(ws.conn)])
    return 0


def cmd_cancel(ws: Workspace, args: argparse.Namespace) -> int:
    status = jobs.cancel(ws.conn, auth.local_actor(args.user), args.job)
    cli.print_json({"job_id": args.job, "status": status, "cancel_requested": status == "running"})
    return 0


def cmd_resume(ws: Workspace, args: argparse.Namespace) -> int:
    jobs.reconcile(ws.conn)
    jobs.resume(ws.conn, auth.local_actor(args.user), args.job)
    return _finish(ws, args, args.job)


def cmd_worker(ws: Workspace, args: argparse.Namespace) -> int:
    from core.ml import worker

    ran = worker.serve(ws, once=args.once, idle_exit_s=args.idle_exit)
    cli.print_json({"jobs_run": ran})
    return 0


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc


def add_commands(add: Callable[[str, Callable, str], argparse.ArgumentParser]) -> None:
    p = add("train", cmd_train, "queue a fine-tuning job (--wait: run it and print the result)")
    p.add_argument("--arch", default=zoo.DEFAULT_ARCH, choices=list(zoo.ARCHES))
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--lr", type=_number)
    p.add_argument("--image-size", dest="image_size", type=int)
    p.add_argument("--optimizer", choices=config.OPTIMIZERS)
    p.add_argument("--scheduler", choices=config.SCHEDULERS)
    p.add_argument("--augment", choices=config.AUGMENTS)
    p.add_argument("--balance", choices=config.BALANCES)
    p.add_argument("--no-pretrained", action="store_true", help="train from scratch even when weights exist")
    p.add_argument("--seed", type=int)
    p.add_argument("--nproc", type=int, help="DistributedDataParallel processes (default: one per GPU)")
    _common(p)
    p = add("quick-model", cmd_quick, "a linear probe on pretrained embeddings: a usable model in seconds")
    p.add_argument("--arch", default=zoo.DEFAULT_ARCH, choices=[a for a in zoo.ARCHES])
    p.add_argument("--image-size", dest="image_size", type=int)
    p.add_argument("--seed", type=int, default=0)
    _common(p)
    p = add("distill", cmd_distill, "distil the production model into a smaller, faster student (an ordinary run)")
    p.add_argument("--student", choices=list(zoo.ARCHES), help=f"the student's backbone (default {zoo.DEFAULT_ARCH})")
    p.add_argument(
        "--image-size", dest="image_size", type=int, help="the student's input (default 0.6 x the teacher's)"
    )
    p.add_argument("--epochs", type=int, help="default: the teacher's")
    p.add_argument("--teacher", type=int, help="the teacher run (default: the production model)")
    _common(p)
    add("jobs", cmd_jobs, "the job queue as JSON (newest first)")
    p = add("cancel", cmd_cancel, "cancel a queued or running job")
    p.add_argument("job", type=int)
    p.add_argument("--user")
    p = add("resume", cmd_resume, "queue a cancelled, interrupted or failed job again from its last checkpoint")
    p.add_argument("job", type=int)
    _common(p)
    p = add("worker", cmd_worker, "run queued jobs (the app starts one when needed)")
    p.add_argument("--once", action="store_true", help="run at most one job, then exit")
    p.add_argument(
        "--idle-exit",
        dest="idle_exit",
        type=float,
        default=float(os.environ.get("BOLTSCOPE_WORKER_IDLE_S", "60")),
        help="exit after this many idle seconds (0: never, for a service; default $BOLTSCOPE_WORKER_IDLE_S or 60)",
    )


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait", action="store_true", help="run (or wait for) the job and print its result")
    p.add_argument("--no-start", dest="no_start", action="store_true", help="only queue; start no worker")
    p.add_argument("--user")
