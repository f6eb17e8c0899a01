"""Take the README's screenshots: a demo workspace, a real `streamlit run`, Debian's Chromium.

.venv/bin/python scripts/screenshots.py [OUT_DIR]   (default docs/screenshots)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def serve(workspace: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "BOLTSCOPE_WORKSPACE": str(workspace),
        "BOLTSCOPE_USER": "kim.engineer",
        "BOLTSCOPE_NO_AUTH": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "serve.py", "--server.port", str(port), "--server.headless", "true"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("streamlit did not start")


def train_page(page, out: Path) -> None:
    """The Train page with the finished fine-tune selected, in Korean and then English (tall viewport)."""
    page.set_viewport_size({"width": 1440, "height": 2100})
    page.get_by_role("link", name="학습", exact=True).click()
    page.locator(".st-key-job_detail .js-plotly-plot").nth(1).wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(out / "train-ko.png"))
    page.get_by_text("English").click()
    page.get_by_text("New run", exact=True).wait_for()
    page.locator(".st-key-job_detail .js-plotly-plot").nth(1).wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(out / "train-en.png"))
    for link, name in (("Evaluate", "evaluate"), ("Review", "review")):
        page.get_by_role("link", name=link, exact=True).click()
        page.wait_for_timeout(6000)
        if name == "review":  # the heatmap is prepared in the background: wait for it, however cold the server
            page.get_by_text("Grad-CAM for").first.wait_for(timeout=300_000)
        page.screenshot(path=str(out / f"{name}-en.png"))
    page.get_by_role("link", name="Diagnose", exact=True).click()
    page.get_by_text("Heatmap settings").wait_for()
    sys.path.insert(0, str(ROOT))
    from core import demo  # the script runs from scripts/; the project is one level up

    folder = Path(tempfile.mkdtemp(prefix="boltscope-photos-"))
    photos = [str(folder / f"wheel-3_bolt-{n}.jpg") for n in (4, 7)]
    for path, label in zip(photos, ("broken", "missing"), strict=True):
        Path(path).write_bytes(demo.render_crop(4242 if label == "broken" else 4243, label).jpeg)
    page.locator("[data-testid=stFileUploader] input[type=file]").first.set_input_files(photos)
    page.locator(".st-key-diag_card_1 img").nth(1).wait_for()
    page.wait_for_timeout(2000)
    page.screenshot(path=str(out / "diagnose-en.png"))
    shutil.rmtree(folder, ignore_errors=True)
    page.get_by_text("한국어").click()
    page.wait_for_timeout(3000)
    page.get_by_role("link", name="평가", exact=True).click()
    page.wait_for_timeout(6000)
    page.screenshot(path=str(out / "evaluate-ko.png"))
    page.get_by_text("내보내기 만들기").click()
    page.locator(".st-key-eval_export_card").wait_for(timeout=120_000)
    page.get_by_text("모델 내보내기", exact=True).scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    page.screenshot(path=str(out / "export-ko.png"))


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    workspace = Path(tempfile.mkdtemp(prefix="boltscope-shots-"))
    for args in (
        ["demo", "--n", "330"],
        ["quick-model", "--wait"],
        ["train", "--arch", "efficientnet_lite0", "--epochs", "5", "--image-size", "128", "--wait"],
        ["suspects", "--save"],
        ["promote", "2"],
    ):
        subprocess.run(
            [sys.executable, "-m", "core", "--workspace", str(workspace), *args],
            cwd=ROOT,
            check=True,
            env={**os.environ, "BOLTSCOPE_USER": "kim.engineer"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    proc, url = serve(workspace)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(url)
            page.locator("[data-testid=stMetric]").first.wait_for()
            page.wait_for_timeout(1500)
            page.screenshot(path=str(out / "dataset-en.png"))
            page.locator(".st-key-open_329 button").first.click()
            page.get_by_text("Photo #329").wait_for()
            page.wait_for_timeout(800)
            page.locator(".st-key-open_photo").screenshot(path=str(out / "photo-detail-en.png"))
            page.get_by_role("tab", name="Balance & health").click()
            page.wait_for_timeout(1500)
            page.screenshot(path=str(out / "health-en.png"), full_page=True)
            page.get_by_text("한국어").click()
            page.get_by_role("tab", name="갤러리").wait_for()
            page.get_by_role("tab", name="갤러리").click()
            page.wait_for_timeout(1500)
            page.screenshot(path=str(out / "dataset-ko.png"))
            page.get_by_role("tab", name="분할 및 내보내기").click()
            page.wait_for_timeout(1200)
            page.screenshot(path=str(out / "splits-ko.png"), full_page=True)
            train_page(page, out)
            browser.close()
    finally:
        proc.terminate()
        shutil.rmtree(workspace, ignore_errors=True)
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main()
