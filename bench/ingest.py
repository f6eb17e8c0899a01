"""Import throughput of 12-megapixel JPEGs: ours (core.ingest) vs a naive importer, measured in the same run;
and the cost of an import into a large workspace against the same import into an empty one.

    .venv/bin/python bench/ingest.py [--n 200] [--photos DIR] [--only throughput|scaling]
                                     [--small 2000] [--stored 50000] [--repeat 3]

naive   per file: read, SHA-256, full decode with Pillow, resize to the 1024 px working copy and a 256 px
        thumbnail, save both as JPEG (no database, one thread): what a first version would do
ours    `ingest.import_paths` into a fresh workspace: the same files validated, hashed, stored,
        working copy and thumbnail made (JPEG draft-mode decode, a thread pool), rows and label events
The photos are made once (--photos keeps them between runs). Prints photos/s and the ratio (bar: ≥ 3×).

scaling `ingest.import_paths` of --small 64x48 JPEGs in three class folders, into an empty workspace and into
        one that already holds --stored photos of the same classes (rows only, settled splits: an import reads
        no stored photo's files); best of --repeat runs each, alternating. Prints large / empty for the CPU time
        of the process (all threads; steady on a shared machine) and for wall time (bar: ≤ 1.2×).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from common import TWELVE_MP, big_jpeg, machine
from PIL import Image

from core import auth, ingest, store
from core.workspace import open_workspace

ACTOR = auth.Actor("bench", "admin")
LABELS = ("normal", "broken", "missing")


def make_photos(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"wheel_{i:04d}.jpg"
        if not path.exists():
            path.write_bytes(big_jpeg(1000 + i, ("normal", "broken", "missing")[i % 3]))
        paths.append(path)
    return paths


def naive(paths: list[Path], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for path in paths:
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        with Image.open(io.BytesIO(data)) as img:
            rgb = img.convert("RGB")  # the whole 12 MP decoded
        copy = rgb.copy()
        copy.thumbnail((1024, 1024), Image.Resampling.BICUBIC)
        copy.save(out / f"{sha}.jpg", "JPEG", quality=92)
        copy.thumbnail((256, 256), Image.Resampling.BICUBIC)
        copy.save(out / f"{sha}.thumb.jpg", "JPEG", quality=85)


def small_photos(folder: Path, n: int) -> Path:
    """n distinct 64x48 JPEGs in normal/broken/missing subfolders (decoding them costs little)."""
    rng = np.random.default_rng(15)
    for i in range(n):
        path = folder / LABELS[i % 3] / f"p{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        out = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(out, "JPEG", quality=85)
        path.write_bytes(out.getvalue())
    return folder


def stored_workspace(path: Path, n: int) -> None:
    """A workspace holding n photos' rows (fake hashes and names, the three labels), their splits settled."""
    ws = open_workspace(path)
    rows = [
        store.NewImage(
            sha256=hashlib.sha256(f"stored {i}".encode()).hexdigest(),
            ext=".jpg",
            display_name=f"stored_{i:06d}.jpg",
            origin=f"/camera/{i:06d}.jpg",
            source="import",
            width=4000,
            height=3000,
            bytes=3_000_000,
            phash=f"{i:016x}",
            brightness=0.5,
            sharpness=0.5,
            label=LABELS[i % 3],
            split=None,
        )
        for i in range(n)
    ]
    store.insert_images(ws.conn, ACTOR, rows, "import", ws.settings.split_ratios)
    ws.close()


def timed_import(template: Path | None, target: Path, folder: Path, n: int) -> tuple[float, float]:
    """(wall, CPU) seconds of one import of the folder into a copy of template (None: a new workspace)."""
    if template is not None:
        shutil.copytree(template, target)
    ws = open_workspace(target)
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        report = ingest.import_paths(ws, ACTOR, [folder])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        ws.close()
    assert report.count("imported") == n, report.to_json()
    shutil.rmtree(target)
    return wall, cpu


def scaling(scratch: Path, n: int, stored: int, repeat: int) -> None:
    folder = small_photos(scratch / "small", n)
    template = scratch / "large-template"
    start = time.perf_counter()
    stored_workspace(template, stored)
    setup_s = time.perf_counter() - start
    empty, large = [], []
    for k in range(repeat):
        empty.append(timed_import(None, scratch / f"empty{k}", folder, n))
        large.append(timed_import(template, scratch / f"large{k}", folder, n))
    best = {name: [min(run[i] for run in runs) for i in (0, 1)] for name, runs in (("empty", empty), ("large", large))}
    cpu_ratio, wall_ratio = best["large"][1] / best["empty"][1], best["large"][0] / best["empty"][0]
    print(f"# {n} JPEGs of 64x48; {stored} stored photos made in {setup_s:.1f} s; best of {repeat}")
    for name, key, runs in (("an empty workspace", "empty", empty), (f"one with {stored} photos", "large", large)):
        print(
            f"into {name}: CPU {best[key][1]:.1f} s, wall {best[key][0]:.1f} s"
            f" (runs: {', '.join(f'{wall:.1f}/{cpu:.1f}' for wall, cpu in runs)} s wall/CPU)"
        )
    print(f"large / empty: CPU {cpu_ratio:.2f}×, wall {wall_ratio:.2f}× (bar ≤ 1.2×)")
    print(
        json.dumps(
            {
                "bench": "ingest_scaling",
                "n": n,
                "stored": stored,
                "empty_cpu_s": round(best["empty"][1], 2),
                "large_cpu_s": round(best["large"][1], 2),
                "ratio": round(cpu_ratio, 2),
                "empty_wall_s": round(best["empty"][0], 2),
                "large_wall_s": round(best["large"][0], 2),
                "wall_ratio": round(wall_ratio, 2),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--photos", help="folder for the generated photos (kept); default: a temp folder")
    parser.add_argument("--only", choices=("throughput", "scaling"), help="run one of the two benches")
    parser.add_argument("--small", type=int, default=2000, help="photos imported by the scaling bench")
    parser.add_argument("--stored", type=int, default=50_000, help="photos the large workspace holds")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.only != "throughput":
        scratch = Path(tempfile.mkdtemp(prefix="bench-ingest-scaling-"))
        try:
            scaling(scratch, args.small, args.stored, args.repeat)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if args.only != "scaling":
        throughput(args)


def throughput(args: argparse.Namespace) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        paths = make_photos(Path(args.photos) if args.photos else scratch / "photos", args.n)
        start = time.perf_counter()
        naive(paths, scratch / "naive")
        naive_s = time.perf_counter() - start
        ws = open_workspace(scratch / "ws")
        start = time.perf_counter()
        report = ingest.import_paths(ws, ACTOR, [paths[0].parent])
        ours_s = time.perf_counter() - start
        ws.close()
        assert report.count("imported") == args.n, report.to_json()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    ratio = naive_s / ours_s
    print(f"# {machine()}; {args.n} JPEGs of {TWELVE_MP[0]}x{TWELVE_MP[1]}")
    print(f"naive: {args.n / naive_s:6.2f} photos/s ({naive_s:.1f} s)")
    print(f" ours: {args.n / ours_s:6.2f} photos/s ({ours_s:.1f} s)")
    print(f"ours / naive throughput = {ratio:.2f}× (bar ≥ 3×)")
    print(
        json.dumps(
            {
                "bench": "ingest",
                "n": args.n,
                "naive_per_s": round(args.n / naive_s, 2),
                "ours_per_s": round(args.n / ours_s, 2),
                "ratio": round(ratio, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
