"""Dashboard speed in Chromium with 10,000 photos, against a 300-photo workspace and a bare Streamlit app.

    .venv/bin/python bench/ui.py [--n 10000] [--small 300] [--repeats 5] [--keep DIR]

Each workspace (demo bolt crops, varied so each is a distinct file, labelled; one finished tiny_cnn run
whose predictions cover every photo) is served by a real `streamlit run` (as `make demo` starts it) and
Playwright drives Debian's Chromium like a returning user: one browser profile, a new tab per repeat.
Medians over --repeats, each from the user's action until the result is on screen and the app is idle:
  open        a new tab on the Dataset page until its first gallery page shows every thumbnail decoded
  relabel     click on a label button of an opened photo until its confirmation is shown
  evaluate    sidebar link to Evaluate until the figures and the confusion matrix are drawn (first
              visit of the tab, after a few seconds on the Dataset page)
  gallery     sidebar link back to Dataset until every thumbnail is shown again
  evaluate2   the Evaluate page once more in the same tab
  first_open  `open` in a fresh browser profile (nothing cached): the first visit ever
The floor is a two-page Streamlit app (a title; one 3x3 Plotly heatmap) measured the same way: what
Streamlit and Chromium cost on this machine before any of our code runs. Bar: <= 1.0 s median.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT, machine
from PIL import Image

sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from conftest import CHROMIUM_ARGS, free_port, stop_workers  # noqa: E402

from core import auth, demo, ingest  # noqa: E402
from core.workspace import open_workspace  # noqa: E402

ADMIN = auth.Actor("bench", "admin")


def photos(n: int, base: int = 120):
    """(label, file name, JPEG bytes): `base` rendered crops, each turned, mirrored, lit and grained anew."""
    crops = [demo.render_crop(9000 + i, demo.CLASSES[i % len(demo.CLASSES)]) for i in range(min(base, n))]
    rng = np.random.default_rng(0)
    for k in range(n):
        crop = crops[k % len(crops)]
        arr = np.rot90(np.asarray(crop.image, dtype=np.int16), k // len(crops) % 4)
        arr = arr + rng.normal(rng.uniform(-12, 12), 2.0, arr.shape)
        out = io.BytesIO()
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=88)
        yield crop.label, f"bolt_{k:05d}.jpg", out.getvalue()


def build(folder: Path, n: int) -> None:
    """A workspace of n labelled photos and one finished run (skipped when it is already there)."""
    ws = open_workspace(folder)
    try:
        if ws.conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] >= n:
            return
        chunk: dict[str, list[tuple[str, bytes]]] = {label: [] for label in demo.CLASSES}
        for label, name, data in photos(n):
            chunk[label].append((name, data))
            if sum(map(len, chunk.values())) >= 600:
                _flush(ws, chunk)
        _flush(ws, chunk)
    finally:
        ws.close()
    cli(folder, "train", "--arch", "tiny_cnn", "--epochs", "1", "--image-size", "32", "--batch-size", "256", "--wait")


def _flush(ws, chunk) -> None:
    for label, uploads in chunk.items():
        if uploads:
            report = ingest.import_uploads(ws, ADMIN, uploads, label=label)
            assert report.count("imported") == len(uploads), report.to_json()
            uploads.clear()


def cli(folder: Path, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "core", "--workspace", str(folder), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "BOLTSCOPE_USER": "bench"},
    )
    if done.returncode:
        raise SystemExit(f"core {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class Server:
    """`streamlit run` on a free loopback port: serve.py in single-user mode as `make demo` starts it, or the floor."""

    def __init__(self, workspace: Path | None, log: Path, script: Path = ROOT / "serve.py") -> None:
        self.port, self.workspace = free_port(), workspace
        env = {**os.environ, "BOLTSCOPE_WORKSPACE": str(workspace), "BOLTSCOPE_NO_AUTH": "1", "BOLTSCOPE_USER": "bench"}
        self.log = open(log, "w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(script),
                "--server.port",
                str(self.port),
                "--server.address",
                "127.0.0.1",
                "--browser.serverAddress",
                "127.0.0.1",
                "--server.headless",
                "true",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        import urllib.request

        for _ in range(200):
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2):
                    return self
            except OSError:
                time.sleep(0.3)
        raise SystemExit("streamlit did not start")

    def __exit__(self, *exc) -> None:
        if self.workspace is not None:
            stop_workers(self.workspace)
        self.proc.terminate()
        self.proc.wait(timeout=15)
        self.log.close()


THUMBS_SHOWN = """(want) => {
  const imgs = [...document.querySelectorAll('[data-testid=stMain] [data-testid=stImage] img')];
  return imgs.length >= want && imgs.every(i => i.complete && i.naturalWidth > 0);
}"""
IDLE = "() => !document.querySelector('[data-testid=stStatusWidget]')"


FLOOR_APP = """
import streamlit as st
import plotly.graph_objects as go

def home():
    st.title("Floor")
    st.write("ready")

def chart():
    st.plotly_chart(go.Figure(go.Heatmap(z=[[5, 1, 0], [1, 6, 1], [0, 2, 7]])), key="floor_chart")

st.navigation([st.Page(home, title="Home", default=True), st.Page(chart, title="Chart", url_path="chart")]).run()
"""
CHART = ".js-plotly-plot"


def _new_tab(context):
    page = context.new_page()
    page.set_default_timeout(60_000)
    return page


def _timed(times: dict, what: str, act, *waits) -> None:
    start = time.perf_counter()
    act()
    for wait in waits:
        wait()
    times.setdefault(what, []).append(time.perf_counter() - start)


def _first_opens(browser, url: str, repeats: int, shown, times: dict) -> None:
    """A first visit ever: a fresh browser profile (nothing cached) each time."""
    for _ in range(repeats):
        fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = _new_tab(fresh)
        _timed(times, "first_open", lambda p=page: p.goto(url + "/"), shown(page))
        fresh.close()


def measure_app(browser, url: str, repeats: int, total: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = _new_tab(fresh)
    page.goto(url + "/")  # warm-up: the server's first session imports the page modules
    page.wait_for_function(THUMBS_SHOWN, arg=24)
    fresh.close()

    def gallery_shown(p):
        def wait():
            p.get_by_text(f"of {total:,}").first.wait_for()
            p.wait_for_function(THUMBS_SHOWN, arg=24)
            p.wait_for_function(IDLE)

        return wait

    _first_opens(browser, url, repeats, gallery_shown, times)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    for rep in range(repeats):
        page = _new_tab(context)
        _timed(times, "open", lambda p=page: p.goto(url + "/"), gallery_shown(page))
        page.locator("[class*=st-key-open_] button").first.click()
        page.get_by_text("Photo #", exact=False).first.wait_for()
        page.wait_for_function(IDLE)
        label = demo.CLASSES[rep % len(demo.CLASSES)]
        if page.locator(f".st-key-open_set_{label} button").is_disabled():  # already so: take the next
            label = demo.CLASSES[(rep + 1) % len(demo.CLASSES)]
        _timed(
            times,
            "relabel",
            page.locator(f".st-key-open_set_{label} button").click,
            page.get_by_text(f"relabelled as {label}", exact=False).first.wait_for,
            lambda p=page: p.wait_for_function(IDLE),
        )
        page.wait_for_timeout(3000)  # a user looks at the page before moving on
        evaluate_drawn = (
            page.locator(f"[class*=st-key-eval_cm_] {CHART}").first.wait_for,
            page.locator("[data-testid=stMetricLabel]", has_text="Macro-F1").first.wait_for,
            lambda p=page: p.wait_for_function(IDLE),
        )
        _timed(times, "evaluate", page.get_by_role("link", name="Evaluate", exact=True).click, *evaluate_drawn)
        _timed(times, "gallery", page.get_by_role("link", name="Dataset", exact=True).click, gallery_shown(page))
        _timed(times, "evaluate2", page.get_by_role("link", name="Evaluate", exact=True).click, *evaluate_drawn)
        page.close()
    context.close()
    return times


def measure_floor(browser, url: str, repeats: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}

    def ready(p):
        return p.get_by_text("ready").wait_for

    _first_opens(browser, url, repeats, ready, times)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    for _ in range(repeats):
        page = _new_tab(context)
        _timed(times, "open", lambda p=page: p.goto(url + "/"), ready(page))
        page.wait_for_timeout(3000)
        _timed(times, "evaluate", page.get_by_role("link", name="Chart").click, page.locator(CHART).first.wait_for)
        _timed(times, "gallery", page.get_by_role("link", name="Home").click, ready(page))
        _timed(times, "evaluate2", page.get_by_role("link", name="Chart").click, page.locator(CHART).first.wait_for)
        page.close()
    context.close()
    return times


def run_app(browser, folder: Path, n: int, repeats: int, scratch: Path) -> dict[str, list[float]]:
    start = time.perf_counter()
    build(folder, n)
    print(f"{n:,} photos ready in {time.perf_counter() - start:.0f} s", flush=True)
    with Server(folder, scratch / f"streamlit-{n}.log") as server:
        return measure_app(browser, server.url, repeats, n)


def run_floor(browser, repeats: int, scratch: Path) -> dict[str, list[float]]:
    script = scratch / "floor_app.py"
    script.write_text(FLOOR_APP)
    with Server(None, scratch / "streamlit-floor.log", script) as server:
        return measure_floor(browser, server.url, repeats)


ORDER = ("open", "relabel", "evaluate", "gallery", "evaluate2", "first_open")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--keep", help="folder for the workspaces (kept and reused); default: a temp folder")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        print("skipped: Debian's chromium is not installed (make browser)")
        return
    from playwright.sync_api import sync_playwright

    scratch = Path(args.keep or tempfile.mkdtemp(prefix="bench-ui-"))
    print(machine())
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            floor = run_floor(browser, args.repeats, scratch)
            small = run_app(browser, scratch / f"ws{args.small}", args.small, args.repeats, scratch)
            big = run_app(browser, scratch / f"ws{args.n}", args.n, args.repeats, scratch)
            browser.close()
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    med = {
        name: {k: statistics.median(v) for k, v in t.items()}
        for name, t in (("floor", floor), ("small", small), ("big", big))
    }
    print(f"{'':11s}{'floor':>8s}{args.small:>8,}{args.n:>9,}  (median s; max at {args.n:,})")
    for what in ORDER:
        f = med["floor"].get(what)
        b = med["big"][what]
        print(
            f"{what:11s}{(f'{f:.2f}' if f is not None else '-'):>8s}{med['small'][what]:8.2f}{b:9.2f}  "
            f"(max {max(big[what]):.2f})  ×{b / med['small'][what]:.2f} for size"
            f"{f'  +{b - f:.2f} s over the floor' if f is not None else ''}"
            f"  {'ok' if b <= 1.0 else 'over 1.0 s'}"
        )
    print(json.dumps({"floor": floor, "small": small, "big": big}))


if __name__ == "__main__":
    main()
