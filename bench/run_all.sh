#!/usr/bin/env bash
# Every benchmark, one after the other; each prints its figures and its ratio against a baseline measured in the
# same run. Usage: bash bench/run_all.sh   (from the repository root, after `make setup-dev` and `make browser`)
# About 15 minutes on a 2-core CPU; on a GPU machine the training and diagnosis figures are the GPU's.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
start=$SECONDS
step() { echo; echo "== $1 ($((SECONDS - start)) s so far)"; }
step "ingest: 200 x 12 MP JPEGs";          "$PY" bench/ingest.py --n 200 --photos "$scratch/ingest" --only throughput
step "ingest into 50,000 stored photos";   "$PY" bench/ingest.py --only scaling
step "diagnose: one 12 MP JPEG";           "$PY" bench/diagnose.py --repeats 30
step "training data path: EfficientNet-Lite0, bolt crops"
"$PY" bench/train_throughput.py --photos crops --n 96 --epochs 3 --folder "$scratch/train"
step "training data path: EfficientNet-Lite0, 2448x2048 wheel photos"
"$PY" bench/train_throughput.py --photos camera --n 96 --epochs 3 --folder "$scratch/train"
step "training data path: tiny_cnn (the data path alone), bolt crops"
"$PY" bench/train_throughput.py --arch tiny_cnn --photos crops --n 512 --epochs 3 --folder "$scratch/train"
step "training data path: tiny_cnn, 2448x2048 wheel photos"
"$PY" bench/train_throughput.py --arch tiny_cnn --photos camera --n 256 --epochs 3 --folder "$scratch/train"
step "time to a good model (../shared/datasets/screws), quick-model fit at 1,000 and 10,000 embeddings, CLI start"; "$PY" bench/time_to_model.py --baseline-timeout 300
step "dashboard in Chromium: 10,000 photos";              "$PY" bench/ui.py --repeats 5
step "inspection: one 2448x2048 wheel photo, 12 positions"; "$PY" bench/inspection.py --repeats 20
step "alignment of a whole photo to its station";          "$PY" bench/align.py
step "distillation on ../shared/datasets/screws (Lite0 224 px teacher, 128 px student)"; "$PY" bench/distill.py --epochs 4
step "allocator (CPU inference)";                         "$PY" bench/bench_allocator.py
echo; echo "== all benchmarks done in $((SECONDS - start)) s"
