"""Distilling a model into a smaller, faster student: what the job is asked to do, checked before it is queued.

The teacher is the production model unless a run is named. The student is an ordinary run of kind "distill":
the same dataset snapshot rules, evaluation, calibration, operating point, comparison, promotion and export
as any fine-tuned run. The work itself (the teacher's targets, the KD loss) is the torch tier's (core.ml.distill).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from core import auth, jobs, runs, zoo
from core.config import TrainConfig
from core.errors import NotFoundError, ValidationError

# Lite0's first six blocks (ImageNet weights from the pip package that always ships offline) and a fresh head: on a
# CPU a Lite0 of any small input costs ~6 ms (a fixed cost per convolution), so a student gains by fewer layers
DEFAULT_STUDENT = "efficientnet_lite0_short"
MIN_EPOCHS = 15  # the student's fresh head needs more passes than a fine-tune; a short student's epoch is cheap
SIZE_SHARE = 0.6  # the student's default input side as a share of the teacher's: about a third of the pixels
SIZE_STEP = 32
MIN_SIZE = 64


def student_size(teacher_size: int) -> int:
    """The default student input: 0.6 × the teacher's side, down to a multiple of 32, at least 64 px.
    (224 → 128, 160 → 96: a third of the teacher's pixels.)"""
    return max(MIN_SIZE, int(teacher_size * SIZE_SHARE) // SIZE_STEP * SIZE_STEP)


def default_epochs(teacher: runs.Run) -> int:
    """The teacher's epochs, at least MIN_EPOCHS (15 passes of the short student on 400 crops: ~75 s on 2 cores)."""
    return max(teacher.config.epochs if teacher.config.trains_a_model else 0, MIN_EPOCHS)


@dataclass(frozen=True)
class Plan:
    """What a distillation will train: its teacher run and the student's full config."""

    teacher: runs.Run
    config: TrainConfig


def teacher_run(conn: sqlite3.Connection, run_id: int | None = None) -> runs.Run:
    """The named run, else the production model; it must have finished with a model."""
    chosen = run_id or runs.production_run_id(conn)
    if chosen is None:
        raise NotFoundError(
            "there is no production model to distil: promote one on the Evaluate page, or name a run with --teacher",
            key="distill.error.no_teacher",
        )
    run = runs.get_run(conn, chosen)
    if not run.finished or not run.checkpoint:
        raise ValidationError(
            f"run {chosen} has not finished; it has no model to teach with",
            key="distill.error.unfinished",
            run=chosen,
        )
    return run


def plan_distillation(
    conn: sqlite3.Connection,
    student: str | None = None,
    image_size: int | None = None,
    epochs: int | None = None,
    teacher: int | None = None,
) -> Plan:
    """The student's config: the teacher's training settings with the student's backbone, input size and epochs.

    Refused with a reason: no teacher, a teacher whose classes are not the dataset's now (labels added or
    emptied since it trained: its probabilities would not line up), or a student no smaller than its teacher."""
    run = teacher_run(conn, teacher)
    arch = zoo.get_arch(student or DEFAULT_STUDENT)
    size = image_size or student_size(run.config.image_size)
    base = run.config
    values = {
        **base.to_dict(),
        "kind": "distill",
        "arch": arch.name,
        "image_size": size,
        "epochs": epochs or default_epochs(run),
        "teacher_run": run.id,
        "nproc": 1,
        "pretrained": True,  # weights when the machine has them; else from scratch, and the run says so
        "freeze_epochs": 0,
    }
    values["warmup_epochs"] = min(int(values["warmup_epochs"]), int(values["epochs"]))
    cfg = TrainConfig.from_dict(values)
    if arch.name == run.arch and size >= run.config.image_size:
        raise ValidationError(
            f"the student ({arch.name} at {size} px) would be no smaller than its teacher "
            f"(run {run.id}: {run.arch} at {run.config.image_size} px); choose a smaller input size or backbone",
            key="distill.error.not_smaller",
            arch=arch.name,
            size=size,
            run=run.id,
            teacher_size=run.config.image_size,
        )
    classes, _ = runs.plan_snapshot(conn, cfg)
    check_classes(run, classes)
    return Plan(run, cfg)


def check_classes(teacher: runs.Run, classes: tuple[str, ...]) -> None:
    """The teacher's classes must be the student's, in the same order: its probabilities are the targets."""
    if tuple(teacher.class_names) != tuple(classes):
        raise ValidationError(
            f"the teacher (run {teacher.id}) knows {', '.join(teacher.class_names)} but the dataset now has "
            f"{', '.join(classes)}; train and promote a model on the current labels first",
            key="distill.error.classes",
            run=teacher.id,
            teacher=", ".join(teacher.class_names),
            now=", ".join(classes),
        )


def submit_distillation(
    conn: sqlite3.Connection,
    actor: auth.Actor,
    student: str | None = None,
    image_size: int | None = None,
    epochs: int | None = None,
    teacher: int | None = None,
) -> int:
    """Queue a distillation job (trainer role); returns its id. Nothing is queued when the plan is refused."""
    auth.require(actor, "train", conn)
    return jobs.submit(conn, actor, plan_distillation(conn, student, image_size, epochs, teacher).config)
