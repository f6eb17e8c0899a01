"""Import throughput of 12-megapixel JPEGs: ours (core.ingest) vs a naive importer, measured in the same run.

    .venv/bin/python bench/ingest.py [--n 200] [--photos DIR]

naive   per file: read, SHA-256, full decode with Pillow, resize to the 1024 px working copy and a 256 px
        thumbnail, save both as JPEG (no database, one thread): what a first version would do
ours    `ingest.import_paths` into a fresh workspace: the same files validated, hashed, stored,
        working copy and thumbnail made (JPEG draft-mode decode, a thread pool), rows and label events
The photos are made once (--photos keeps them between runs). Prints photos/s and the ratio (bar: ≥ 3×).
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

from common import TWELVE_MP, big_jpeg, machine
from PIL import Image

from core import auth, ingest
from core.workspace import open_workspace


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--photos", help="folder for the generated photos (kept); default: a temp folder")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        paths = make_photos(Path(args.photos) if args.photos else scratch / "photos", args.n)
        start = time.perf_counter()
        naive(paths, scratch / "naive")
        naive_s = time.perf_counter() - start
        ws = open_workspace(scratch / "ws")
        start = time.perf_counter()
        report = ingest.import_paths(ws, auth.Actor("bench", "admin"), [paths[0].parent])
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
    print(json.dumps({"bench": "ingest", "n": args.n, "naive_per_s": round(args.n / naive_s, 2),
                      "ours_per_s": round(args.n / ours_s, 2), "ratio": round(ratio, 2)}))


if __name__ == "__main__":
    main()
