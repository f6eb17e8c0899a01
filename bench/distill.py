"""Distilling a fine-tuned EfficientNet-Lite0 into a smaller student on the `screws` crops, measured in one run.

    .venv/bin/python bench/distill.py [--teacher-size 224] [--student efficientnet_lite0] [--student-size 128]
                                      [--epochs 6] [--repeats 40] [--json]

teacher  EfficientNet-Lite0 (ImageNet weights from its pip package) fine-tuned on the 400 training crops
         (the workspace's own validation hold-out), "photo" augmentation, promoted
student  `distill` through the worker as the Train page and the CLI run it: the teacher's softened
         probabilities plus the labels (core.ml.kd), the student's temperature and operating point fitted again
Both are then judged on the 184 test crops (macro-F1 of the stored predictions) and timed in this process on
the CPU, batch 1, interleaved (the served models, temperature folded in): p50 ms per photo and the ratio.
Acceptance (issue 17): student macro-F1 within 0.01 of the teacher's at ≤ 0.5× its CPU ms.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: `core` and `bench`

import torch  # noqa: E402

from bench.common import machine  # noqa: E402
from core import auth, distillation, evaluation, ingest, jobs, runs  # noqa: E402
from core.config import TrainConfig  # noqa: E402
from core.ml import predict, worker  # noqa: E402
from core.workspace import Workspace, open_workspace  # noqa: E402

SCREWS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "screws"
ADMIN = auth.Actor("bench", "admin")


def run_job(ws: Workspace, job_id: int) -> runs.Run:
    job = jobs.claim(ws.conn, job_id)
    started = time.perf_counter()
    status = worker.run_job(ws, job)
    if status != "done":
        raise SystemExit(f"job {job_id} ended {status}: {jobs.get_job(ws.conn, job_id).error}")
    run = runs.run_for_job(ws.conn, job_id)
    print(
        f"  job {job_id} ({job.kind}, {job.config.arch} {job.config.image_size} px): "
        f"{time.perf_counter() - started:.0f} s"
    )
    return run


def train_both(ws: Workspace, args: argparse.Namespace) -> tuple[runs.Run, runs.Run]:
    """The teacher fine-tuned and promoted, then the student distilled from it through the worker."""
    ingest.import_paths(ws, ADMIN, [SCREWS / "train"], split="train")
    ingest.import_paths(ws, ADMIN, [SCREWS / "test"], split="test")
    config = TrainConfig(
        arch="efficientnet_lite0", epochs=args.epochs, image_size=args.teacher_size, augment="photo", seed=0
    )
    teacher = run_job(ws, jobs.submit(ws.conn, ADMIN, config))
    evaluation.promote(ws.conn, ADMIN, teacher.id)
    job_id = distillation.submit_distillation(ws.conn, ADMIN, args.student, args.student_size, args.student_epochs)
    return teacher, run_job(ws, job_id)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher-size", type=int, default=224)
    ap.add_argument("--student", default=distillation.DEFAULT_STUDENT)
    ap.add_argument("--student-size", type=int)
    ap.add_argument("--epochs", type=int, default=6, help="the teacher's")
    ap.add_argument("--student-epochs", type=int, help="default: distill's (the teacher's, at least 15)")
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", type=Path, help="train in this workspace and keep it; a second call only times")
    args = ap.parse_args()
    if not (SCREWS / "train").is_dir():
        raise SystemExit(f"{SCREWS} is not present")
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        ws = open_workspace(args.keep or Path(tmp) / "ws")
        done = [r for r in runs.list_runs(ws.conn) if r.finished]
        if len(done) >= 2 and done[0].kind == "distill":  # kept from an earlier call: time them again
            student, teacher = done[0], runs.get_run(ws.conn, done[0].config.teacher_run)
        else:
            teacher, student = train_both(ws, args)
        ids = [teacher.id, student.id]
        ms, one = predict.served_cpu_ms(ws, ids, args.repeats), predict.served_cpu_ms(ws, ids, args.repeats, threads=1)
        figures = {
            "machine": machine(),
            "teacher": {
                "arch": teacher.arch,
                "size": teacher.config.image_size,
                "test_macro_f1": teacher.test_macro_f1,
            },
            "student": {
                "arch": student.arch,
                "size": student.config.image_size,
                "test_macro_f1": student.test_macro_f1,
            },
            "cpu_ms": {"teacher": ms[teacher.id], "student": ms[student.id]},
            "cpu_ms_one_thread": {"teacher": one[teacher.id], "student": one[student.id]},
            "ms_ratio": ms[student.id] / ms[teacher.id],
            "ms_ratio_one_thread": one[student.id] / one[teacher.id],
            "f1_gap": teacher.test_macro_f1 - student.test_macro_f1,
            "temperature": {"teacher": teacher.temperature, "student": student.temperature},
        }
        ws.close()
    if args.json:
        print(json.dumps(figures))
        return
    t, s = figures["teacher"], figures["student"]
    for who, run, row in (("teacher", teacher, t), ("student", student, s)):
        print(
            f"{who} {row['arch']} {row['size']} px: test macro-F1 {row['test_macro_f1']:.4f}, "
            f"{ms[run.id]:.1f} ms ({torch.get_num_threads()} threads), {one[run.id]:.1f} ms (1 thread)"
        )
    print(
        f"ratio student/teacher CPU ms: {figures['ms_ratio']:.2f}x ({torch.get_num_threads()} threads), "
        f"{figures['ms_ratio_one_thread']:.2f}x (1 thread); bar <= 0.5x. F1 gap {figures['f1_gap']:+.4f} (bar 0.01)"
    )


if __name__ == "__main__":
    main()
