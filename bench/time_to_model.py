"""Time to a good model, and how the quick model's fit and start scale.

    .venv/bin/python bench/time_to_model.py [--data ../shared/datasets/screws] [--variants quick finetune]
                                           [--parts screws fit start] [--fit-sizes 1000 10000]

screws: from importing ../shared/datasets/screws to a model with test macro-F1 >= 0.99. Each variant starts
from an empty workspace and runs what an engineer would type, one process per step (so interpreter and
model start-up count):
  python -m core import <data>/train --split train;  python -m core import <data>/test --split test
  quick     python -m core quick-model --wait           (linear probe on EfficientNet-Lite0 embeddings)
  finetune  python -m core train --arch efficientnet_lite0 --epochs 3 --image-size 160 --wait
The figure is wall time of all steps; the test macro-F1 is what `train --wait` reports for the held-out
test split. The baseline is the issue's bar (quick <= 60 s, fine-tune <= 10 min on a CPU), printed as a ratio.

fit: the quick model's probe fit (`embed.fit_probe`) on 1,000 and 10,000 cached embeddings (synthetic,
2,560 features as EfficientNet-Lite0's avg+max pooling gives), each in a fresh process, against the fit as
it was before issue 13 (4 C x 5-fold cross_val_predict from scratch; `baseline` with the default thread pools
as it ran, `baseline-1t` with one thread) measured in the same run, with the C each picks and its accuracy on
2,000 held-out rows. Wall and CPU seconds: on a busy machine the CPU seconds of a one-thread fit are what its
wall time would be on a quiet one. Bars: <= 10 s at 1,000, <= 60 s at 10,000.

start: `quick-model --wait` on a demo workspace whose embeddings are cached: seconds from launching the
CLI until the job row is running (bar: <= 5 s), until the fit starts, and until it is done.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT, machine

VARIANTS = {
    "quick": (["quick-model", "--wait"], 60.0),
    "finetune": (["train", "--arch", "efficientnet_lite0", "--epochs", "3", "--image-size", "160", "--wait"], 600.0),
}


def core(workspace: Path, *args: str) -> dict:
    """One CLI step; its last stdout line is JSON."""
    done = subprocess.run(
        [sys.executable, "-m", "core", "--workspace", str(workspace), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "BOLTSCOPE_USER": "bench"},
    )
    if done.returncode != 0:
        raise SystemExit(f"`core {' '.join(args)}` failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def one(data: Path, variant: str) -> dict:
    command, bar = VARIANTS[variant]
    with tempfile.TemporaryDirectory(prefix="bench-ttm-") as tmp:
        ws = Path(tmp) / "ws"
        start = time.perf_counter()
        train = core(ws, "import", str(data / "train"), "--split", "train")
        test = core(ws, "import", str(data / "test"), "--split", "test")
        imported = time.perf_counter() - start
        result = core(ws, *command)
        total = time.perf_counter() - start
    f1 = (result.get("test") or {}).get("macro_f1", 0.0)
    return {
        "variant": variant,
        "photos": train["imported"] + test["imported"],
        "import_s": imported,
        "total_s": total,
        "test_macro_f1": f1,
        "bar_s": bar,
        "status": result.get("status"),
    }


def synthetic_embeddings(n: int, features: int = 2560, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Embedding-like rows: non-negative, correlated through a few shared factors, three unbalanced classes
    a small shift apart (a probe reaches about 95 % at 1,000 rows, as on real bolt crops)."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=[0.55, 0.2, 0.25])
    base = rng.gamma(2.0, 0.6, size=features)
    means = base + 0.1 * rng.normal(size=(3, features)) * base
    factors = rng.normal(size=(24, features)) * base * 0.5
    x = means[y] + rng.normal(size=(n, 24)) @ factors + rng.normal(size=(n, features)) * base * 0.8
    return np.maximum(x, 0).astype(np.float16).astype(np.float32), y  # float16: what the cache stores


def baseline_fit(x: np.ndarray, y: np.ndarray, seed: int = 0):
    """The probe search before issue 13: 4 C x 5-fold cross_val_predict, each fit from scratch, float64."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.preprocessing import StandardScaler

    from core.ml import embed

    scaler = StandardScaler().fit(x)
    z = scaler.transform(x)
    split = StratifiedKFold(min(5, int(np.bincount(y).min())), shuffle=True, random_state=seed)
    best = None
    for c in embed.PROBE_C:
        oof = cross_val_predict(
            LogisticRegression(C=c, max_iter=3000, random_state=seed), z, y, cv=split, method="predict_proba"
        )
        loss = log_loss(y, oof)
        if best is None or loss < best[0]:
            best = (loss, c)
    return scaler, LogisticRegression(C=best[1], max_iter=3000, random_state=seed).fit(z, y)


def fit_child(n: int, which: str) -> None:
    """In a fresh process: one fit on n synthetic rows; prints seconds, chosen C and held-out accuracy."""
    from threadpoolctl import threadpool_limits

    from core.ml import embed

    x, y = synthetic_embeddings(n + 2000, seed=1)
    start, cpu = time.perf_counter(), time.process_time()
    if which == "ours":
        scaler, clf, _ = embed.fit_probe(x[:n], y[:n], 3)
    elif which == "baseline-1t":  # the old search with one thread: the algorithm's share of the gain alone
        with threadpool_limits(limits=1):
            scaler, clf = baseline_fit(x[:n], y[:n])
    else:
        scaler, clf = baseline_fit(x[:n], y[:n])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    accuracy = float((clf.predict(scaler.transform(x[n:])) == y[n:]).mean())
    print(json.dumps({"seconds": seconds, "cpu_s": cpu, "C": float(clf.C), "accuracy": accuracy}))


def fit_one(n: int, which: str, timeout: float) -> dict:
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--child-fit", str(n), which],
            cwd=ROOT,
            text=True,
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"seconds": None, "cpu_s": None, "C": None, "accuracy": None}
    if done.returncode != 0:
        raise SystemExit(f"fit {which} at {n} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _fit_text(name: str, r: dict, timeout: float) -> str:
    if r["seconds"] is None:
        return f"{name} > {timeout:.0f} s (stopped)"
    return f"{name} {r['seconds']:.1f} s wall / {r['cpu_s']:.1f} s CPU (C={r['C']:g}, held-out acc {r['accuracy']:.3f})"


def fit_part(sizes: list[int], baselines: list[str], timeout: float) -> list[dict]:
    """Ours and the baselines at each size; the wall-time ratio, and the bar checked on ours."""
    rows = []
    for n in sizes:
        ours = fit_one(n, "ours", timeout)
        row = {"part": "fit", "photos": n, "ours": ours, "bar_s": 10.0 if n <= 1000 else 60.0}
        texts = [_fit_text("ours", ours, timeout)]
        for name in baselines:
            row[name] = base = fit_one(n, name, timeout)
            ratio = f", {base['seconds'] / ours['seconds']:.1f}x ours" if base["seconds"] else ""
            texts.append(_fit_text(name, base, timeout) + ratio)
        rows.append(row)
        print(
            f"fit {n:6d} cached embeddings: "
            + "; ".join(texts)
            + f"; bar {row['bar_s']:.0f} s{'' if ours['seconds'] <= row['bar_s'] else '  MISSED'}",
            flush=True,
        )
    return rows


def _watch_job(workspace: Path, command: list[str]) -> dict:
    """Launch the CLI; seconds until its job is running, until the fit phase, until the process ends."""
    db_path = workspace / "boltscope.db"
    with sqlite3.connect(db_path) as conn:
        before = conn.execute("SELECT COALESCE(MAX(id), 0) FROM jobs").fetchone()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", "--workspace", str(workspace), *command],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "BOLTSCOPE_USER": "bench"},
    )
    seen: dict[str, float] = {}
    with sqlite3.connect(db_path) as conn:
        while proc.poll() is None:
            row = conn.execute(
                "SELECT status, progress FROM jobs WHERE id > ? ORDER BY id DESC LIMIT 1", (before,)
            ).fetchone()
            if row and row[0] != "queued":
                seen.setdefault("running_s", time.perf_counter() - start)
            if row and json.loads(row[1] or "{}").get("phase") == "fit":
                seen.setdefault("fit_s", time.perf_counter() - start)
            time.sleep(0.02)
    seen["total_s"] = time.perf_counter() - start
    seen["result"] = json.loads(proc.stdout.read().strip().splitlines()[-1])
    return seen


def start_part(photos: int = 120) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp:
        ws = Path(tmp) / "ws"
        core(ws, "demo", "--n", str(photos))
        _watch_job(ws, ["quick-model", "--wait"])  # computes and caches the embeddings
        timed = _watch_job(ws, ["quick-model", "--wait"])
    print(
        f"start  quick-model --wait, {photos} photos, embeddings cached: job running after "
        f"{timed['running_s']:.1f} s (bar 5 s{'' if timed['running_s'] <= 5 else ', MISSED'}), fit from "
        f"{timed.get('fit_s', float('nan')):.1f} s, done after {timed['total_s']:.1f} s",
        flush=True,
    )
    return {"part": "start", "photos": photos, **{k: v for k, v in timed.items() if k != "result"}}


def screws_part(data: Path, variants: list[str]) -> list[dict]:
    if not (data / "train").is_dir() or not (data / "test").is_dir():
        print(f"screws skipped: {data} has no train/ and test/ folders (the shared datasets are not on this machine)")
        return []
    results = [one(data, v) for v in variants]
    for r in results:
        good = r["test_macro_f1"] >= 0.99
        print(
            f"{r['variant']:9s} {r['photos']} photos: import {r['import_s']:.1f} s, total {r['total_s']:.1f} s, "
            f"test macro-F1 {r['test_macro_f1']:.3f} ({'>=' if good else 'below'} 0.99); "
            f"{r['total_s'] / r['bar_s']:.2f} of the {r['bar_s']:.0f} s bar"
            f"{'' if good and r['total_s'] <= r['bar_s'] else '  MISSED'}"
        )
    return results


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child-fit":
        fit_child(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "screws"))
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--parts", nargs="+", choices=["screws", "fit", "start"], default=["screws", "fit", "start"])
    parser.add_argument("--fit-sizes", dest="fit_sizes", nargs="+", type=int, default=[1000, 10000])
    parser.add_argument(
        "--baselines",
        nargs="*",
        choices=["baseline", "baseline-1t"],
        default=["baseline", "baseline-1t"],
        help="baseline: the old search as it ran (default thread pools); baseline-1t: with one thread",
    )
    parser.add_argument(
        "--baseline-timeout",
        dest="baseline_timeout",
        type=float,
        default=900.0,
        help="stop a fit (the old one at 10,000 can take many minutes) after this many seconds",
    )
    args = parser.parse_args()
    print(machine(), flush=True)
    results: list[dict] = []
    if "fit" in args.parts:
        results += fit_part(args.fit_sizes, args.baselines, args.baseline_timeout)
    if "start" in args.parts:
        results.append(start_part())
    if "screws" in args.parts:
        results += screws_part(Path(args.data), args.variants)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
