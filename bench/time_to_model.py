"""Time to a good model: from importing ../shared/datasets/screws to a model with test macro-F1 >= 0.99.

    .venv/bin/python bench/time_to_model.py [--data ../shared/datasets/screws] [--variants quick finetune]

Each variant starts from an empty workspace and runs what an engineer would type, one process per step
(so interpreter and model start-up count):
  python -m core import <data>/train --split train;  python -m core import <data>/test --split test
  quick     python -m core quick-model --wait           (linear probe on EfficientNet-Lite0 embeddings)
  finetune  python -m core train --arch efficientnet_lite0 --epochs 3 --image-size 160 --wait
The figure is wall time of all steps; the test macro-F1 is what `train --wait` reports for the held-out
test split. The baseline is the issue's bar (quick <= 60 s, fine-tune <= 10 min on a CPU), printed as a ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine

VARIANTS = {
    "quick": (["quick-model", "--wait"], 60.0),
    "finetune": (["train", "--arch", "efficientnet_lite0", "--epochs", "3", "--image-size", "160", "--wait"], 600.0),
}


def core(workspace: Path, *args: str) -> dict:
    """One CLI step; its last stdout line is JSON."""
    done = subprocess.run([sys.executable, "-m", "core", "--workspace", str(workspace), *args], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "BOLTSCOPE_USER": "bench"})
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
    return {"variant": variant, "photos": train["imported"] + test["imported"], "import_s": imported,
            "total_s": total, "test_macro_f1": f1, "bar_s": bar, "status": result.get("status")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "screws"))
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args()
    data = Path(args.data)
    if not (data / "train").is_dir() or not (data / "test").is_dir():
        print(f"skipped: {data} has no train/ and test/ folders (the shared datasets are not on this machine)")
        return
    print(machine())
    results = [one(data, v) for v in args.variants]
    for r in results:
        good = r["test_macro_f1"] >= 0.99
        print(f"{r['variant']:9s} {r['photos']} photos: import {r['import_s']:.1f} s, total {r['total_s']:.1f} s, "
              f"test macro-F1 {r['test_macro_f1']:.3f} ({'>=' if good else 'below'} 0.99); "
              f"{r['total_s'] / r['bar_s']:.2f} of the {r['bar_s']:.0f} s bar"
              f"{'' if good and r['total_s'] <= r['bar_s'] else '  MISSED'}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
