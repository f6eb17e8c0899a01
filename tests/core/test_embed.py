"""The quick model: cached backbone embeddings, a logistic-regression probe folded into the model's head."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from core import jobs, runs, store
from core.ml import checkpoint, data, embed, models, transforms
from core.workspace import open_workspace
from tests.core.train_helpers import ADMIN, add_demo, cli_json, run_job_here, tiny_config

QUICK_KEYS = {"job_id", "run_id", "status", "best_epoch", "val", "test"}


def folded_probs(x, weight, bias):
    return torch.softmax(torch.from_numpy(x).float() @ weight.T + bias, dim=1).numpy()


@pytest.mark.parametrize(
    ("num_classes", "present"),
    [(2, [0, 1]), (3, [0, 1, 2]), (3, [0, 2]), (4, [1, 3])],
    ids=["binary", "three", "three-one-missing", "four-two-missing"],
)
def test_fold_head_equals_scaler_plus_probe(num_classes, present):
    rng = np.random.default_rng(len(present) * 10 + num_classes)
    y = rng.choice(present, size=120)
    x = rng.normal(size=(120, 16)) * rng.uniform(0.1, 20, size=16) + rng.normal(size=16) * 5
    x[np.arange(120), y % 16] += 3.0  # something to learn
    scaler = StandardScaler().fit(x)
    clf = LogisticRegression(C=0.5, max_iter=3000).fit(scaler.transform(x), y)
    weight, bias = embed.fold_head(scaler, clf, num_classes)
    assert weight.shape == (num_classes, 16) and bias.shape == (num_classes,)
    expected = np.zeros((120, num_classes))
    expected[:, clf.classes_] = clf.predict_proba(scaler.transform(x))
    got = folded_probs(x, weight, bias)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    missing = sorted(set(range(num_classes)) - set(present))
    assert (got[:, missing] < 1e-6).all()


def test_fit_probe_chooses_c_by_cross_validation():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 20)
    x = rng.normal(size=(60, 8)) + np.eye(3, 8)[y] * 2
    scaler, clf, oof = embed.fit_probe(x, y, 3, seed=0)
    assert clf.C in embed.PROBE_C and oof.shape == (60, 3)
    np.testing.assert_allclose(oof.sum(axis=1), 1, atol=1e-6)
    assert (oof.argmax(axis=1) == y).mean() > 0.8
    again = embed.fit_probe(x, y, 3, seed=0)
    np.testing.assert_array_equal(again[2], oof)  # seeded folds
    # the out-of-fold answers are not the refitted probe's answers on its own training rows
    assert not np.allclose(oof, clf.predict_proba(scaler.transform(x)))


def test_fit_probe_with_too_few_photos_to_cross_validate():
    x = np.array([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2], [0.2, 1.1]])
    y = np.array([0, 1, 0, 1, 2])  # one photo of class 2
    _, clf, probs = embed.fit_probe(x, y, 3)
    assert clf.C == 1.0 and probs.shape == (5, 3)


@pytest.fixture
def demo_ws(ws):
    add_demo(ws, 30)
    return ws


def test_embeddings_are_cached_per_model_key(demo_ws, monkeypatch):
    images = store.all_images(demo_ws.conn)
    shas, paths = [im.sha256 for im in images], [demo_ws.layout.cached(im.sha256) for im in images]
    computed: list[int] = []
    real = embed._features

    def spy(spec, batch, device, hooks, **kw):
        computed.append(len(batch))
        return real(spec, batch, device, hooks, **kw)

    monkeypatch.setattr(embed, "_features", spy)
    torch.manual_seed(0)
    spec = models.build("tiny_cnn", 3, pretrained=False, image_size=32, pooling="avgmax")
    assert embed.model_key(spec) is None  # random weights: a different network each time, never cached
    spec.weights = {"used": True, "path": "/weights/tiny-0000.pth"}  # as if loaded from a file
    first = embed.embeddings(demo_ws.conn, spec, shas[:20], paths[:20], torch.device("cpu"))
    assert first.shape == (20, 64) and computed == [20]
    rows = demo_ws.conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    assert rows == 20
    again = embed.embeddings(demo_ws.conn, spec, shas[:20], paths[:20], torch.device("cpu"))
    assert computed == [20] and np.array_equal(again, first)
    more = embed.embeddings(demo_ws.conn, spec, shas, paths, torch.device("cpu"))
    assert computed == [20, 10] and np.array_equal(more[:20], first)
    other = models.build("tiny_cnn", 3, pretrained=False, image_size=48, pooling="avgmax")
    other.weights = spec.weights
    assert embed.model_key(other) != embed.model_key(spec)
    embed.embeddings(demo_ws.conn, other, shas[:5], paths[:5], torch.device("cpu"))
    assert computed == [20, 10, 5]
    assert demo_ws.conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == 35
    # the cache holds what the backbone computes (to float16 precision), and the head survives
    direct = embed._features(spec, data.decode_all(paths[:3], 32), torch.device("cpu"), embed.trainer.Hooks())
    np.testing.assert_allclose(first[:3], direct, rtol=1e-2, atol=1e-3)
    assert isinstance(spec.head, torch.nn.Linear) and spec.head.in_features == 64


def _checkpoint_probs(ws, run, image_ids):
    """Probabilities the saved best.pt gives, loaded into a freshly built model, for the given photos."""
    best = checkpoint.load(ws.settings.workspace / run.checkpoint)
    spec = models.build(
        best["arch"],
        len(best["class_names"]),
        pretrained=False,
        image_size=best["preprocess"]["size"],
        pooling=best["pooling"],
    )
    spec.model.load_state_dict(best["model"])
    spec.model.eval()
    by_id = {im.id: im.sha256 for im in store.all_images(ws.conn)}
    images = data.decode_all([ws.layout.cached(by_id[i]) for i in image_ids], best["preprocess"]["size"])
    tf = transforms.eval_transform(spec.preprocess)
    with torch.inference_mode():
        return torch.softmax(spec.model(torch.stack([tf(im) for im in images])), dim=1).numpy()


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_quick_model_cli_and_its_checkpoint(demo_ws):
    demo_ws.close()  # the CLI process has the workspace to itself
    out = cli_json(demo_ws.settings.workspace, "quick-model", "--arch", "tiny_cnn", "--image-size", "32", "--wait")
    assert QUICK_KEYS <= set(out) and out["status"] == "done" and out["best_epoch"] == 1
    for split in ("val", "test"):
        assert set(out[split]) == {"accuracy", "macro_f1"} and 0 <= out[split]["macro_f1"] <= 1
    ws = open_workspace(demo_ws.settings.workspace)
    try:
        run = runs.get_run(ws.conn, out["run_id"])
        assert run.kind == "quick" and run.config.image_size == 32 and run.test_macro_f1 == out["test"]["macro_f1"]
        best = checkpoint.load(ws.settings.workspace / run.checkpoint)
        assert best["pooling"] == "avgmax" and best["probe_c"] in embed.PROBE_C
        assert [(e.epoch, e.steps) for e in runs.epochs(ws.conn, run.id)] == [(1, 1)]
        # test photos were not fitted: their stored probabilities are what the checkpoint computes
        test = runs.predictions(ws.conn, run.id, "test")
        assert len(test) >= 3
        got = _checkpoint_probs(ws, run, [p["image_id"] for p in test])
        np.testing.assert_allclose(got, np.array([p["probs"] for p in test]), atol=2e-3)
    finally:
        ws.close()


def test_quick_model_on_a_scratch_backbone_matches_its_predictions(demo_ws):
    runs_done = []
    for rng_seed in (1, 2):  # e.g. a worker that trained something else in between
        torch.manual_seed(rng_seed)
        job_id = jobs.submit(demo_ws.conn, ADMIN, tiny_config(kind="quick", epochs=1))
        assert run_job_here(demo_ws, job_id) == "done"
        runs_done.append(runs.run_for_job(demo_ws.conn, job_id))
    for index, run in enumerate(runs_done):  # the first run is right; the second reuses its embeddings
        test = runs.predictions(demo_ws.conn, run.id, "test")
        got = _checkpoint_probs(demo_ws, run, [p["image_id"] for p in test])
        np.testing.assert_allclose(got, np.array([p["probs"] for p in test]), atol=2e-3, err_msg=f"quick run {index}")


def test_quick_model_stores_out_of_fold_figures_for_fitted_photos(demo_ws):
    job_id = jobs.submit(demo_ws.conn, ADMIN, tiny_config(kind="quick", epochs=1))
    assert run_job_here(demo_ws, job_id) == "done"
    run = runs.run_for_job(demo_ws.conn, job_id)
    preds = runs.predictions(demo_ws.conn, run.id)
    assert len(preds) == 30 and {p["split"] for p in preds} == {"train", "val", "test"}
    assert all(abs(sum(p["probs"]) - 1) < 1e-4 for p in preds)
    val = [p for p in preds if p["split"] == "val"]
    accuracy = sum(p["label"] == p["predicted"] for p in val) / len(val)
    assert run.val_accuracy == pytest.approx(accuracy)


def _old_fit_probe(x, y, seed=0):
    """The probe search as it was (4 C × 5-fold cross_val_predict from scratch, float64): the reference."""
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    z = StandardScaler().fit_transform(x)
    split = StratifiedKFold(5, shuffle=True, random_state=seed)
    best = None
    for c in embed.PROBE_C:
        oof = cross_val_predict(
            LogisticRegression(C=c, max_iter=3000, random_state=seed), z, y, cv=split, method="predict_proba"
        )
        loss = log_loss(y, oof)
        if best is None or loss < best[0]:
            best = (loss, c, oof)
    return best[1], best[2]


@pytest.mark.parametrize(("rows", "features"), [(150, 400), (240, 48)], ids=["fewer-photos-than-features", "more"])
def test_fit_probe_chooses_as_before_and_reports_progress(rows, features):
    """The faster search (row-space fit, warm starts along C, one thread) picks the same C as the old one
    and is as accurate, on held-out rows too; it reports each fit."""
    rng = np.random.default_rng(rows)
    y_all = rng.choice(3, size=rows + 300, p=[0.5, 0.2, 0.3])
    x_all = rng.gamma(2.0, 1.0, size=(rows + 300, features)) + rng.normal(size=(3, features))[y_all] * 0.35
    x, y, x_test, y_test = x_all[:rows], y_all[:rows], x_all[rows:], y_all[rows:]
    calls = []
    scaler, clf, oof = embed.fit_probe(x, y, 3, seed=0, progress=lambda done, total: calls.append((done, total)))
    old_c, old_oof = _old_fit_probe(x, y)
    assert clf.C == old_c
    assert (oof.argmax(axis=1) == y).mean() >= (old_oof.argmax(axis=1) == y).mean() - 0.02
    old = LogisticRegression(C=old_c, max_iter=3000).fit(StandardScaler().fit(x).transform(x), y)
    accuracy = (clf.predict(scaler.transform(x_test)) == y_test).mean()
    assert accuracy >= (old.predict(StandardScaler().fit(x).transform(x_test)) == y_test).mean() - 0.02
    np.testing.assert_allclose(oof.sum(axis=1), 1, atol=1e-6)
    total = 5 * len(embed.PROBE_C) + 1
    assert calls == [(i, total) for i in range(1, total + 1)]  # every fit, in order, the refit last


def test_row_space_coordinates_rebuild_the_rows():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(40, 100)).astype(np.float32)
    coords, basis = embed._row_space(z)
    assert coords.shape == (40, 40) and basis.shape == (100, 40)
    np.testing.assert_allclose(coords @ basis.T, z, atol=1e-4)
    np.testing.assert_allclose(basis.T @ basis, np.eye(40), atol=1e-6)  # orthonormal: the penalty is unchanged
    wide = rng.normal(size=(120, 100)).astype(np.float32)
    assert embed._row_space(wide)[1] is None  # more photos than features: nothing to gain


def test_large_sets_use_three_folds():
    assert embed.probe_folds(730, 100) == 5 and embed.probe_folds(10_000, 2_000) == 3
    assert embed.probe_folds(10_000, 2) == 2  # never more folds than the smallest class has photos


class RecordingHooks(embed.trainer.Hooks):
    def __init__(self):
        self.seen = []

    def progress(self, values):
        self.seen.append(dict(values))


def test_embedding_progress_counts_all_photos_cached_or_not(demo_ws):
    images = store.all_images(demo_ws.conn)
    shas, paths = [im.sha256 for im in images], [demo_ws.layout.cached(im.sha256) for im in images]
    torch.manual_seed(0)
    spec = models.build("tiny_cnn", 3, pretrained=False, image_size=32, pooling="avgmax")
    spec.weights = {"used": True, "path": "/weights/tiny-0000.pth"}  # as if loaded from a file: cached
    embed.embeddings(demo_ws.conn, spec, shas[:20], paths[:20], torch.device("cpu"))
    hooks = RecordingHooks()
    embed.embeddings(demo_ws.conn, spec, shas, paths, torch.device("cpu"), hooks)
    steps = [(p["phase"], p["step"], p["steps"]) for p in hooks.seen]
    assert steps[0] == ("embed", 20, 30) and steps[-1] == ("embed", 30, 30)  # 20 were cached
    assert all("epoch" not in p for p in hooks.seen)  # no "Epoch 0/1" for a quick model


def test_quick_model_reports_embeddings_then_fitting(demo_ws, monkeypatch):
    from core.ml import runner

    seen = []
    monkeypatch.setattr(runner.DbHooks, "progress", lambda self, values: seen.append(dict(values)))
    job_id = jobs.submit(demo_ws.conn, ADMIN, tiny_config(kind="quick", epochs=1))
    assert run_job_here(demo_ws, job_id) == "done"
    phases = [p["phase"] for p in seen]
    assert phases[-1] == "familiarity"  # the finished run's own step (its index), after the quick model's
    phases = [p for p in phases if p != "familiarity"]
    assert phases[0] == "embed" and phases[-1] == "fit" and set(phases) == {"embed", "fit"}
    last = [p for p in seen if p["phase"] == "fit"][-1]
    assert last["step"] == last["steps"] > 1 and last["photos"] > 0
