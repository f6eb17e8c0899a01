"""Distillation (issue 17, part 6): the KD loss, the plan core checks before queueing, and a whole distillation
job through the worker and the CLI, with a tiny teacher and student on demo photos."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core import audit, distillation, evaluation, jobs, label_set, runs, store
from core.config import TrainConfig
from core.errors import NotFoundError, PermissionDenied, ValidationError
from core.ml import checkpoint, data, kd, predict
from tests.core.train_helpers import ADMIN, add_demo, cli_json, run_cli, run_job_here, tiny_config

VIEWER = ADMIN.__class__("vera", "viewer")


def hinton(logits, labels, teacher_logits, t, w):
    """The textbook formula, written out: w·T²·Σ p_t log(p_t / p_s) + (1 − w)·CE."""
    p_t = torch.softmax(teacher_logits / t, dim=1)
    log_p_s = torch.log_softmax(logits / t, dim=1)
    soft = (p_t * (torch.log(p_t) - log_p_s)).sum(dim=1).mean() * t * t
    return w * soft + (1 - w) * F.cross_entropy(logits, labels)


@pytest.mark.parametrize(("t", "w"), [(1.0, 0.5), (4.0, 0.7), (2.5, 1.0), (3.0, 0.0)])
def test_the_loss_is_hintons_formula(t, w):
    torch.manual_seed(int(t * 10 + w * 100))
    logits, teacher = torch.randn(16, 3, requires_grad=True), torch.randn(16, 3) * 3
    labels = torch.randint(0, 3, (16,))
    packed = kd.pack(labels, torch.log_softmax(teacher, dim=1), t)
    got = kd.DistillationLoss(t, w, nn.CrossEntropyLoss())(logits, packed)
    want = hinton(logits, labels, teacher, t, w)
    assert torch.allclose(got, want, atol=1e-5), (got, want)
    (g_got,) = torch.autograd.grad(got, logits)
    (g_want,) = torch.autograd.grad(want, logits)
    assert torch.allclose(g_got, g_want, atol=1e-6)


def test_the_student_is_pulled_towards_the_teacher_not_only_the_label():
    """With the label on class 0 and a teacher that also sees class 1, the loss is lowest for a student that
    keeps some of class 1 (dark knowledge), not for one sure of class 0."""
    labels = torch.tensor([0])
    teacher = torch.log(torch.tensor([[0.6, 0.39, 0.01]]))
    loss = kd.DistillationLoss(4.0, 0.7, nn.CrossEntropyLoss())
    packed = kd.pack(labels, teacher, 4.0)
    sure = loss(torch.tensor([[8.0, -4.0, -4.0]]), packed)
    like_teacher = loss(torch.log(torch.tensor([[0.6, 0.39, 0.01]])), packed)
    assert like_teacher < sure


def test_packed_targets_travel_through_the_cache_and_keep_their_labels():
    images = torch.zeros((4, 3, 8, 8), dtype=torch.uint8)
    packed = kd.pack(torch.tensor([2, 0, 1, 2]), torch.log_softmax(torch.randn(4, 3), dim=1), 2.0)
    ds = data.CachedImages(images, packed)
    assert ds.labels.tolist() == [2, 0, 1, 2]
    batch, targets = next(iter(data.loader(ds, 2)))
    assert targets.shape == (2, 4) and kd.labels_of(targets).tolist() == [2, 0]
    assert torch.allclose(targets[:, 1:].sum(dim=1), torch.ones(2))
    plain = data.CachedImages(images, [1, 0, 1, 0])
    assert plain.labels.tolist() == [1, 0, 1, 0] and plain[0][1] == 1


def test_config_names_a_teacher_only_for_a_distillation():
    with pytest.raises(ValidationError) as err:
        TrainConfig(arch="tiny_cnn", teacher_run=3)
    assert err.value.key == "distill.error.teacher_kind"
    with pytest.raises(ValidationError) as err:
        TrainConfig(arch="tiny_cnn", kind="distill")
    assert err.value.key == "distill.error.teacher_id"
    with pytest.raises(ValidationError):
        TrainConfig(arch="tiny_cnn", kind="distill", teacher_run=1, kd_temperature=0.5)
    with pytest.raises(ValidationError):
        TrainConfig(arch="tiny_cnn", kind="distill", teacher_run=1, kd_weight=1.5)
    cfg = TrainConfig(arch="tiny_cnn", kind="distill", teacher_run=1)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg and cfg.trains_a_model


def test_student_size_defaults_to_a_third_of_the_pixels():
    assert [distillation.student_size(s) for s in (224, 160, 256, 96, 32)] == [128, 96, 128, 64, 64]


def test_nothing_is_queued_without_a_teacher(ws):
    with pytest.raises(NotFoundError) as err:
        distillation.submit_distillation(ws.conn, ADMIN)
    assert err.value.key == "distill.error.no_teacher"
    assert jobs.list_jobs(ws.conn) == []


@pytest.fixture
def teacher(ws):
    """45 demo photos, a 2-epoch tiny_cnn at 48 px, promoted: the students below train at 32 px."""
    add_demo(ws, 45)
    job_id = jobs.submit(ws.conn, ADMIN, tiny_config(epochs=2, image_size=48))
    assert run_job_here(ws, job_id) == "done"
    run = runs.run_for_job(ws.conn, job_id)
    evaluation.promote(ws.conn, ADMIN, run.id)
    return run


def test_the_plan_refuses_a_student_no_smaller_than_its_teacher(ws, teacher):
    with pytest.raises(ValidationError) as err:
        distillation.submit_distillation(ws.conn, ADMIN, "tiny_cnn", image_size=48)
    assert err.value.key == "distill.error.not_smaller" and err.value.detail["run"] == teacher.id
    assert [j.kind for j in jobs.list_jobs(ws.conn)] == ["train"]  # the teacher's own job only


def test_the_plan_refuses_a_teacher_whose_classes_are_not_the_datasets(ws, teacher):
    label_set.add_label(ws.conn, ADMIN, "loose", "loose", "풀림")
    train = [im.id for im in store.all_images(ws.conn) if im.split == "train"]
    store.relabel(ws.conn, ADMIN, train[:3], "loose")
    with pytest.raises(ValidationError) as err:
        distillation.submit_distillation(ws.conn, ADMIN, "tiny_cnn", image_size=32)
    assert err.value.key == "distill.error.classes" and "loose" in err.value.detail["now"]
    assert [j.kind for j in jobs.list_jobs(ws.conn)] == ["train"]


def test_a_viewer_cannot_distil(ws, teacher):
    with pytest.raises(PermissionDenied):
        distillation.submit_distillation(ws.conn, VIEWER, "tiny_cnn", image_size=32)


def test_a_distillation_is_an_ordinary_run(ws, teacher):
    """The job trains the student on the teacher's targets and finishes like any run: figures, calibrated
    predictions, a temperature, its own operating point, a checkpoint the predictor loads, an audited submit."""
    job_id = distillation.submit_distillation(ws.conn, ADMIN, "tiny_cnn", image_size=32, epochs=2)
    job = jobs.get_job(ws.conn, job_id)
    assert job.kind == "distill" and job.config.teacher_run == teacher.id and job.config.image_size == 32
    assert job.config.batch_size == teacher.config.batch_size  # the teacher's settings, the student's size
    assert run_job_here(ws, job_id) == "done"
    student = runs.run_for_job(ws.conn, job_id)
    assert student.kind == "distill" and student.finished and student.best_epoch is not None
    assert student.test_macro_f1 is not None and student.temperature is not None and student.cpu_ms
    stored = runs.predictions(ws.conn, student.id)
    assert len(stored) == len(runs.snapshot(ws.conn, student.id))
    assert evaluation.operating_point(ws.conn, student) is not None
    saved = checkpoint.load(ws.settings.workspace / student.checkpoint)
    assert saved["config"]["teacher_run"] == teacher.id and saved["preprocess"]["size"] == 32
    predictor = predict.load_predictor(ws, student.id)
    assert predictor.spec.preprocess.size == 32
    log = ws.layout.job_log(job_id).read_text()
    assert f"teacher: run {teacher.id}" in log
    entries = [e for e in audit.query(ws.conn, actions=("train",)) if e.target == f"job {job_id}"]
    assert entries and entries[0].details["teacher_run"] == teacher.id and entries[0].details["kind"] == "distill"


def test_the_teacher_targets_are_the_teachers_answers(ws, teacher):
    """The targets the student learns are the promoted teacher's probabilities of each photo as it serves them."""
    from core.ml import distill, runner

    job_id = distillation.submit_distillation(ws.conn, ADMIN, "tiny_cnn", image_size=32, epochs=1)
    student = runs.create_run(ws.conn, job_id, jobs.get_job(ws.conn, job_id).config, {}, {})
    ctx = runner.context(ws, student, runner.trainer.Hooks())
    got = distill.teacher_log_probs(ws, ctx, teacher.id).exp()
    served = predict.predict(predict.load_predictor(ws, teacher.id), list(ctx.image_paths[:5]))
    for row, p in zip(got[:5], served, strict=True):
        assert torch.allclose(row, torch.tensor([p.probs[c] for c in teacher.class_names]), atol=1e-5)


def test_cli_distill_prints_what_train_prints(ws, teacher):
    ws.close()
    out = cli_json(
        ws.settings.workspace,
        "distill",
        "--student",
        "tiny_cnn",
        "--image-size",
        "32",
        "--epochs",
        "1",
        "--wait",
        timeout=600,
    )
    assert set(out) == {"job_id", "run_id", "status", "best_epoch", "val", "test"} and out["status"] == "done"
    refused = run_cli(ws.settings.workspace, "distill", "--student", "tiny_cnn", "--image-size", "64")
    assert refused.returncode == 2 and refused.stdout == ""  # refused input, as every command exits
    assert "no smaller than its teacher" in refused.stderr and "Traceback" not in refused.stderr


def test_served_models_are_timed_in_turns_and_the_thread_setting_comes_back(ws, teacher):
    before = torch.get_num_threads()
    ms = predict.served_cpu_ms(ws, [teacher.id], rounds=3, threads=1)
    assert set(ms) == {teacher.id} and ms[teacher.id] > 0
    assert torch.get_num_threads() == before
