"""Issue 17, acceptance 6, on real photos: distilling a fine-tuned EfficientNet-Lite0 teacher on the `screws`
crops into a smaller student keeps the test macro-F1 within 0.01 of the teacher's at ≤ 0.5× its CPU ms per photo.

The teacher trains at Lite0's own 224 px (the Train page's default), the student is what `distill` makes by
default (Lite0's first six blocks and a fresh head at 128 px, 15 epochs); both served models are timed here, in
one process, batch 1, taking turns. Run with -s for the figures; bench/distill.py measures the same and
docs/benchmarks.md records it. (A whole Lite0 at 128 px keeps the F1 too, but on a CPU it costs 0.46–0.57× the
teacher: every convolution has a fixed cost at batch 1, so a student gains by fewer layers, not fewer pixels.)
"""

from __future__ import annotations

import pytest
import torch

from core import distillation, evaluation, ingest, jobs, runs
from core.config import TrainConfig
from core.ml import predict
from core.workspace import open_workspace
from tests.conftest import SHARED_DATASETS
from tests.core.train_helpers import ADMIN, run_job_here

SCREWS = SHARED_DATASETS / "screws"
TEACHER = TrainConfig(arch="efficientnet_lite0", epochs=4, image_size=224, augment="photo", seed=0)
pytestmark = pytest.mark.slow


def test_a_distilled_student_keeps_the_teachers_f1_at_half_its_cpu_time(tmp_path):
    if not (SCREWS / "train").is_dir() or not (SCREWS / "test").is_dir():
        pytest.skip("../shared/datasets/screws is not present")
    ws = open_workspace(tmp_path / "ws")
    try:
        ingest.import_paths(ws, ADMIN, [SCREWS / "train"], split="train")
        ingest.import_paths(ws, ADMIN, [SCREWS / "test"], split="test")
        job_id = jobs.submit(ws.conn, ADMIN, TEACHER)
        assert run_job_here(ws, job_id) == "done"
        teacher = runs.run_for_job(ws.conn, job_id)
        evaluation.promote(ws.conn, ADMIN, teacher.id)
        job_id = distillation.submit_distillation(ws.conn, ADMIN)  # every default: what the Distil button does
        assert run_job_here(ws, job_id) == "done"
        student = runs.run_for_job(ws.conn, job_id)
        threads = torch.get_num_threads()
        ms, one = (
            predict.served_cpu_ms(ws, [teacher.id, student.id]),
            predict.served_cpu_ms(ws, [teacher.id, student.id], threads=1),
        )
        ratio, ratio_one = ms[student.id] / ms[teacher.id], one[student.id] / one[teacher.id]
        print(
            f"\nteacher {teacher.arch} {teacher.config.image_size} px: test macro-F1 {teacher.test_macro_f1:.4f}, "
            f"{ms[teacher.id]:.1f} ms ({threads} threads), {one[teacher.id]:.1f} ms (1 thread); student {student.arch} "
            f"{student.config.image_size} px: {student.test_macro_f1:.4f}, {ms[student.id]:.1f} ms, "
            f"{one[student.id]:.1f} ms; ratio {ratio:.2f} ({threads} threads), {ratio_one:.2f} (1 thread); "
            f"temperatures {teacher.temperature:.3f} / {student.temperature:.3f}"
        )
        assert (student.kind, student.config.teacher_run, student.arch, student.config.image_size) == (
            "distill",
            teacher.id,
            "efficientnet_lite0_short",
            128,
        )
        assert student.test_macro_f1 >= teacher.test_macro_f1 - 0.01
        assert ratio <= 0.5 and ratio_one <= 0.5  # measured 0.27 and 0.20–0.23 on this 2-core machine
        assert evaluation.operating_point(ws.conn, student) is not None
    finally:
        ws.close()
