"""A distillation job: the teacher's log-probabilities of the student's photos, then an ordinary training run.

The teacher sees each photo the way it was trained and serves (its own input size, the stored working copy,
its calibrated head); the student then trains with core.ml.kd's loss on those targets and the labels, and
finishes like any run (temperature, predictions, operating point, familiarity index, heatmap check).
"""

from __future__ import annotations

import gc
import logging
from dataclasses import replace

import torch

from core import distillation, runs
from core.ml import familiarity, predict, trainer
from core.workspace import Workspace

log = logging.getLogger(__name__)
BATCH = 32


def teacher_log_probs(ws: Workspace, ctx: trainer.RunContext, teacher_id: int) -> torch.Tensor:
    """N×C float32: the teacher's log-probabilities of every snapshot photo (the trainer reads the train rows)."""
    teacher = runs.get_run(ws.conn, teacher_id)
    distillation.check_classes(teacher, tuple(ctx.class_names))
    predictor = predict.load_predictor(ws, teacher_id)
    log.info(
        "teacher: run %d (%s, %d px), %d photos",
        teacher_id,
        teacher.arch,
        predictor.spec.preprocess.size,
        len(ctx.items),
    )
    rows, total = [], len(ctx.image_paths)
    epochs = ctx.config.epochs
    try:
        with torch.inference_mode():
            for start in range(0, total, BATCH):
                batch = predict.prepare(predictor, list(ctx.image_paths[start : start + BATCH]))
                rows.append(torch.log_softmax(predictor.spec.model(batch).float(), dim=1).cpu())
                familiarity.taken()  # the teacher's features are nobody's: drop them
                done = min(start + BATCH, total)
                ctx.hooks.progress({"phase": "teacher", "step": done, "steps": total, "epoch": 0, "epochs": epochs})
                if ctx.hooks.should_stop():
                    raise trainer.Cancelled(
                        f"stopped while the teacher labelled photo {done}", key="distill.error.stopped", step=done
                    )
    finally:
        del predictor
        gc.collect()
    return torch.cat(rows) if rows else torch.zeros((0, len(ctx.class_names)))


def run_distillation(ctx: trainer.RunContext, ws: Workspace) -> trainer.RunResult:
    """The teacher's targets, then the student's training on them (resumable like any training run)."""
    teacher = ctx.config.teacher_run
    if teacher is None:
        raise ValueError("a distillation run needs its teacher run in its config")
    targets = teacher_log_probs(ws, ctx, teacher)
    return trainer.run_training(replace(ctx, teacher=targets))
