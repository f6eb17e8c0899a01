"""Backbone embeddings (cached per photo) and the quick model: a logistic-regression probe on them.

The probe is folded into the backbone's own linear head, so a quick model is an ordinary checkpoint
that prediction, Grad-CAM and export use like any trained run.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypedDict

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from torch import nn

from core import db, label_set, metrics
from core.ml import cam_centre, checkpoint, data, models, runtime, trainer, transforms

log = logging.getLogger(__name__)
PROBE_C = (0.02, 0.1, 0.5, 2.0)  # inverse regularisation strengths tried, in this order; cross-validation picks
PROBE_LARGE = 2000  # above this many fitted photos, 3 folds instead of 5


def model_key(spec: models.ModelSpec) -> str | None:
    """Embeddings depend on the backbone, its weights, the pooling and the input size. A randomly
    initialised backbone is a different network every time: its embeddings are never cached (None)."""
    if not spec.weights.get("used"):
        return None
    return f"{spec.name}@{spec.preprocess.size}/{spec.pooling}:{Path(str(spec.weights.get('path'))).name}"


def _features(
    spec: models.ModelSpec,
    images: torch.Tensor,
    device: torch.device,
    hooks: trainer.Hooks,
    batch: int = 32,
    done: int = 0,
    total: int | None = None,
) -> np.ndarray:
    """Pooled backbone features (the head's input) for uint8 images, in eval mode. Progress counts
    embeddings of all `total` photos, `done` of which were already there (cached)."""
    total = len(images) + done if total is None else total
    head = spec.head
    models.replace_module(spec.model, spec.head_path, nn.Identity())
    tf = transforms.eval_transform(spec.preprocess)
    out = []
    try:
        # channels_last: about a third faster for these convolutions on CPU as well as on GPU
        spec.model.eval().to(device, memory_format=torch.channels_last)
        with torch.inference_mode():
            for start in range(0, len(images), batch):
                if hooks.should_stop():
                    raise trainer.Cancelled(
                        f"stopped while embedding photo {start} of {len(images)}",
                        key="train.error.stopped_embedding",
                        photo=start,
                        photos=len(images),
                    )
                chunk = torch.stack([tf(im) for im in images[start : start + batch]])
                chunk = chunk.to(device).contiguous(memory_format=torch.channels_last)
                out.append(spec.model(chunk).float().cpu().numpy())
                hooks.progress({"phase": "embed", "step": done + min(start + batch, len(images)), "steps": total})
    finally:
        models.replace_module(spec.model, spec.head_path, head)
        spec.model.to(memory_format=torch.contiguous_format)
    return np.concatenate(out) if out else np.zeros((0, head.in_features), dtype=np.float32)


def embeddings(
    conn: sqlite3.Connection,
    spec: models.ModelSpec,
    shas: Sequence[str],
    paths: Sequence[Path],
    device: torch.device,
    hooks: trainer.Hooks | None = None,
) -> np.ndarray:
    """Embeddings for the photos, computing and storing only those not cached for this model key."""
    hooks = hooks or trainer.Hooks()
    key = model_key(spec)
    cached: dict[str, np.ndarray] = {}
    for start in range(0, len(shas) if key else 0, 500):
        chunk = list(shas[start : start + 500])
        rows = conn.execute(
            f"SELECT sha256, vector FROM embeddings WHERE model_key = ? AND sha256 IN ({','.join('?' * len(chunk))})",
            (key, *chunk),
        ).fetchall()
        cached.update({r[0]: np.frombuffer(r[1], dtype=np.float16).astype(np.float32) for r in rows})
    todo = [i for i, sha in enumerate(shas) if sha not in cached]
    hooks.progress({"phase": "embed", "step": len(shas) - len(todo), "steps": len(shas)})
    if todo:
        images = data.decode_all([paths[i] for i in todo], spec.preprocess.size)
        vectors = _features(spec, images, device, hooks, done=len(shas) - len(todo), total=len(shas))
        if key is None:
            return vectors
        with db.transaction(conn):
            conn.executemany(
                "INSERT OR REPLACE INTO embeddings (model_key, sha256, vector) VALUES (?, ?, ?)",
                [(key, shas[i], v.astype(np.float16).tobytes()) for i, v in zip(todo, vectors, strict=True)],
            )
        cached.update({shas[i]: v.astype(np.float16).astype(np.float32) for i, v in zip(todo, vectors, strict=True)})
    log.info("embeddings %s: %d cached, %d computed", key, len(shas) - len(todo), len(todo))
    return np.stack([cached[sha] for sha in shas]) if shas else np.zeros((0, 0), dtype=np.float32)


def _row_space(z: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The rows' coordinates in their own row space (n × rank) and its orthonormal basis (d × rank);
    (z, None) when there are at least as many rows as features.

    The weights of an L2-penalised linear model lie in the span of its training rows (the loss gradient is
    a combination of rows, the penalty is rotation-invariant), also for any fold's subset of the rows. A fit
    on the coordinates, mapped back through the basis, is therefore the fit on z, and with 1,000 photos
    of 2,560 features each iteration costs 2.5× less.
    """
    if len(z) >= z.shape[1]:
        return z, None
    eigenvalues, vectors = np.linalg.eigh(z.astype(np.float64) @ z.T.astype(np.float64))
    keep = eigenvalues > eigenvalues.max() * 1e-9
    singular = np.sqrt(eigenvalues[keep])
    coords = vectors[:, keep] * singular
    basis = (z.T.astype(np.float64) @ vectors[:, keep]) / singular
    return np.ascontiguousarray(coords, dtype=np.float32), basis


def _probe(c: float, seed: int, warm: bool = False) -> LogisticRegression:
    # warm_start: each fit along a fold's C path starts from the previous C's solution. The final refit
    # starts from zero, as before: lbfgs stopping at tol from there is part of what CV chose C for.
    return LogisticRegression(C=c, max_iter=3000, random_state=seed, warm_start=warm)


def probe_folds(n: int, smallest_class: int) -> int:
    """5 folds up to PROBE_LARGE photos, 3 above (each fold already holds thousands); never more than the
    smallest class has photos."""
    return min(5 if n <= PROBE_LARGE else 3, smallest_class)


def fit_probe(
    x: np.ndarray, y: np.ndarray, num_classes: int, seed: int = 0, progress: Callable[[int, int], None] | None = None
) -> tuple[StandardScaler, LogisticRegression, np.ndarray]:
    """Standardise, pick C by cross-validated log-loss, refit on everything.

    Returns the scaler, the refitted probe and the out-of-fold probabilities of each row (what the
    probe says about a photo it was not fitted on: honest validation figures, and suspect labels).
    progress(done, total) is called after each of the folds × C fits and the refit.
    """
    report = progress or (lambda done, total: None)
    scaler = StandardScaler().fit(x)
    z = scaler.transform(x).astype(np.float32)
    folds = probe_folds(len(y), int(np.bincount(y).min()) if len(y) else 0)
    # one thread per pool (BLAS, OpenMP): these matrices are small, and on a busy 2-core machine two threads
    # spinning against torch's and other processes' made each solver iteration 30× slower (97 ms vs 3 ms)
    with threadpool_limits(limits=1):
        if folds < 2:  # too few photos of some class to cross-validate
            clf = LogisticRegression(C=1.0, max_iter=3000, random_state=seed).fit(z, y)
            report(1, 1)
            return scaler, clf, clf.predict_proba(z)
        coords, basis = _row_space(z)
        oof = _cross_validate(coords, y, folds, seed, report)
        losses = {c: log_loss(y, oof[c], labels=list(range(num_classes))) for c in PROBE_C}
        best = min(PROBE_C, key=lambda c: losses[c])  # the smallest C on a tie, as before
        clf = _probe(best, seed).fit(coords, y)
    report(folds * len(PROBE_C) + 1, folds * len(PROBE_C) + 1)
    if basis is not None:  # back from row-space coordinates to the features
        clf.coef_ = (clf.coef_.astype(np.float64) @ basis.T).astype(np.float32)
        clf.n_features_in_ = z.shape[1]
    log.info(
        "probe: %d photos, %d folds, C=%g (cross-validated log-loss %s)",
        len(y),
        folds,
        best,
        ", ".join(f"{c:g}: {loss:.4f}" for c, loss in losses.items()),
    )
    return scaler, clf, oof[best]


def _cross_validate(
    coords: np.ndarray, y: np.ndarray, folds: int, seed: int, report: Callable[[int, int], None]
) -> dict[float, np.ndarray]:
    """Out-of-fold probabilities for every C, each fold walking the C path from strong to weak
    regularisation with warm starts."""
    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    oof = {c: np.zeros((len(y), len(np.unique(y)))) for c in PROBE_C}
    total = folds * len(PROBE_C) + 1
    for index, (train, held) in enumerate(split.split(coords, y)):
        clf = _probe(PROBE_C[0], seed, warm=True)
        for step, c in enumerate(PROBE_C):
            clf.set_params(C=c).fit(coords[train], y[train])
            probs = clf.predict_proba(coords[held]).astype(np.float64)  # a float32 fit: sum to 1 in float64
            oof[c][held] = probs / probs.sum(axis=1, keepdims=True)
            report(index * len(PROBE_C) + step + 1, total)
    return oof


def fold_head(scaler: StandardScaler, clf: LogisticRegression, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights and bias of one Linear layer giving the probe's probabilities from raw features."""
    coef, intercept = clf.coef_, clf.intercept_
    if coef.shape[0] == 1:  # binary: softmax over (-z/2, z/2) equals sigmoid(z)
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    full_w = np.zeros((num_classes, coef.shape[1]))
    full_b = np.full(num_classes, -1e4)  # a class the probe never saw is never predicted
    full_w[clf.classes_], full_b[clf.classes_] = coef, intercept
    scale = scaler.scale_
    weight = full_w / scale
    bias = full_b - (full_w * scaler.mean_ / scale).sum(axis=1)
    return torch.tensor(weight, dtype=torch.float32), torch.tensor(bias, dtype=torch.float32)


def _expand(probs: np.ndarray, classes: np.ndarray, n: int) -> np.ndarray:
    full = np.zeros((len(probs), n), dtype=np.float64)
    full[:, classes] = probs
    return full


def _epoch_values(y: np.ndarray, probs: np.ndarray, split: np.ndarray, results: dict, n: int) -> dict:
    """The quick model's one 'epoch' row: train figures (out of fold) and validation figures."""
    tr, va, labels = split == "train", split == "val", list(range(n))
    train_fit = metrics.summary(y[tr].tolist(), probs[tr].argmax(axis=1).tolist(), n)
    val = results.get("val", {})
    return {
        "train_loss": float(log_loss(y[tr], probs[tr], labels=labels)),
        "train_accuracy": train_fit["accuracy"],
        "train_macro_f1": train_fit["macro_f1"],
        "val_loss": float(log_loss(y[va], probs[va], labels=labels)) if va.any() else None,
        "val_accuracy": val.get("accuracy"),
        "val_macro_f1": val.get("macro_f1"),
        "lr": None,
        "steps": 1,
    }


def run_quick(ctx: trainer.RunContext, conn: sqlite3.Connection) -> trainer.RunResult:
    """The quick model: cached embeddings + probe fitted on train, C chosen on validation, one 'epoch'."""
    c, n = ctx.config, len(ctx.class_names)
    device = runtime.pick_device(ctx.local_rank)
    pooling = "avgmax" if models.supports_avgmax(c.arch) else "avg"
    torch.manual_seed(c.seed)  # a backbone without pretrained weights is then the same for the same seed
    spec = models.build(
        c.arch, n, pretrained=c.pretrained, image_size=c.image_size, weights_dir=ctx.weights_dir, pooling=pooling
    )
    start = time.perf_counter()
    x = embeddings(conn, spec, [it.sha256 for it in ctx.items], ctx.image_paths, device, ctx.hooks)
    seconds = time.perf_counter() - start
    class_of = {name: i for i, name in enumerate(ctx.class_names)}
    y = np.array([class_of[it.label] for it in ctx.items])
    split = np.array([it.split for it in ctx.items])
    tr, va = split == "train", split == "val"
    fit_rows = tr | va  # a probe has no epochs to pick: train and validation photos both fit it
    ctx.hooks.progress({"phase": "fit", "step": 0, "steps": 0, "photos": int(fit_rows.sum())})
    fit_start = time.perf_counter()
    scaler, clf, oof = fit_probe(
        x[fit_rows],
        y[fit_rows],
        n,
        c.seed,
        progress=lambda done, total: ctx.hooks.progress(
            {"phase": "fit", "step": done, "steps": total, "photos": int(fit_rows.sum())}
        ),
    )
    fit_seconds = time.perf_counter() - fit_start
    weight, bias = fold_head(scaler, clf, n)
    with torch.no_grad():
        spec.head.weight.copy_(weight)
        spec.head.bias.copy_(bias)
    # the last stage tuned from the probe, so the heatmaps point at the bolt (cam_centre's docstring: why)
    tuned = cam_centre.tune(spec, ctx.image_paths, y, fit_rows, c.seed, ctx.hooks)
    probs = tuned if tuned is not None else torch.softmax(torch.from_numpy(x) @ weight.T + bias, dim=1).numpy()
    probs[fit_rows] = _expand(oof, clf.classes_, n)  # fitted photos: judged out of fold
    predicted = probs.argmax(axis=1)
    results = {
        s: metrics.summary(y[split == s].tolist(), predicted[split == s].tolist(), n)
        for s in ("val", "test")
        if (split == s).any()
    }
    values = _epoch_values(y, probs, split, results, n)
    values.update(seconds=seconds, images_per_s=len(x) / max(seconds, 1e-9))
    checkpoint.write(ctx.run_dir / checkpoint.BEST, spec, c, ctx.class_names, 1, values, probe_c=float(clf.C))
    ctx.hooks.epoch_done(1, values)
    log.info(
        "quick model: C=%g, fitted in %.1f s, val macro-F1 %s, test macro-F1 %s",
        clf.C,
        fit_seconds,
        results.get("val", {}).get("macro_f1"),
        results.get("test", {}).get("macro_f1"),
    )
    preds = [
        (it.image_id, it.split, ctx.class_names[int(predicted[i])], probs[i].tolist()) for i, it in enumerate(ctx.items)
    ]
    return trainer.RunResult(
        1,
        results,
        preds,
        checkpoint.BEST,
        str(device),
        spec.weights,
        1,
        runtime.measure_cpu_ms(spec.model, spec.preprocess.size),
    )


class Suspect(TypedDict):
    """A labelled photo in find_suspects' ranking (`suspects --json` prints image, given, predicted, score)."""

    image: int
    given: str  # its label
    predicted: str  # the likeliest other class, or the given label when none is likelier
    score: float  # max P(other) - P(given)
    flagged: bool


def find_suspects(
    ws, top: int | None = None, arch: str = "efficientnet_lite0", seed: int = 0, hooks: trainer.Hooks | None = None
) -> list[Suspect]:
    """Photos whose label looks wrong, most suspect first: confident learning (Northcutt et al.) on
    out-of-fold probabilities of the quick-model probe over cached embeddings of every labelled photo.

    A photo labelled i is flagged when some other class j reaches that class's own threshold (the mean
    P(j) over the photos labelled j); the score is the margin max_j≠i P(j) − P(i).
    """
    from core import store  # light; imported here so embed stays importable without a workspace

    images = [im for im in store.all_images(ws.conn) if im.label]
    order = [lab.name for lab in label_set.list_labels(ws.conn)]
    names = [name for name in order if sum(im.label == name for im in images) >= 2]
    images = [im for im in images if im.label in names]
    if len(names) < 2:
        return []
    torch.manual_seed(seed)
    pooling = "avgmax" if models.supports_avgmax(arch) else "avg"
    spec = models.build(arch, len(names), image_size=256, weights_dir=ws.layout.weights, pooling=pooling)
    x = embeddings(
        ws.conn,
        spec,
        [im.sha256 for im in images],
        [ws.layout.cached(im.sha256) for im in images],
        runtime.pick_device(),
        hooks,
    )
    y = np.array([names.index(im.label) for im in images])
    folds = StratifiedKFold(min(5, int(np.bincount(y).min())), shuffle=True, random_state=seed)
    z = StandardScaler().fit_transform(x)
    if hooks is not None:
        hooks.progress({"phase": "fit", "step": 0, "steps": 0, "photos": len(y)})
    with threadpool_limits(limits=1):  # see fit_probe
        oof = cross_val_predict(
            LogisticRegression(C=0.5, max_iter=3000, random_state=seed), z, y, cv=folds, method="predict_proba"
        )
    probs = _expand(oof, np.arange(len(names)), len(names))
    thresholds = np.array([probs[y == j, j].mean() for j in range(len(names))])
    others = probs.copy()
    others[np.arange(len(y)), y] = -1.0
    rival = others.argmax(axis=1)
    score = others.max(axis=1) - probs[np.arange(len(y)), y]
    flagged = (others >= thresholds[None, :]).any(axis=1)
    ranked = sorted(range(len(images)), key=lambda i: (not flagged[i], -score[i]))
    out = [
        Suspect(
            image=images[i].id,
            given=images[i].label,
            predicted=names[int(rival[i])] if score[i] > 0 else images[i].label,
            score=round(float(score[i]), 6),
            flagged=bool(flagged[i]),
        )
        for i in ranked
    ]
    return out[:top] if top else out
