"""In Chromium (issue 14, point 8): after every bulk action on the Dataset page (relabel, trash, restore, select
page, clear selection) the boxes in the browser and the selection agree: no box stays ticked, the action touched
exactly the ticked photos, and the next tick selects that one photo only (not the ones ticked before). Also when
the user is quicker than a loaded server (a box changed and a bulk button pressed in one go, the server stopped
meanwhile): the action takes the boxes as the browser showed them at the press, not as they were at the last draw."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core import demo
from tests.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WAIT_MS = 120_000  # a rerun on the busy shared 2-core machine has taken over 30 s
SELECTED = re.compile(r"^(\d+) selected$")

# every selection box in the DOM: {image id: checked}
BOXES_JS = """() => Object.fromEntries([...document.querySelectorAll('[class*="st-key-sel_"]')]
    .map(el => [[...el.classList].map(c => /^st-key-sel_(\\d+)$/.exec(c)).find(m => m), el])
    .filter(([m]) => m).map(([m, el]) => [m[1], el.querySelector('input[type=checkbox]')?.checked ?? null]))"""
IDLE_JS = "() => document.querySelector('[data-testid=stApp]')?.dataset.testScriptState === 'notRunning'"
SELECTED_JS = """(before) => {
    if (document.querySelector('[data-testid=stApp]')?.dataset.testScriptState !== 'notRunning') return false;
    const texts = [...document.querySelectorAll('[data-testid=stMarkdownContainer]')].map(e => e.innerText.trim());
    const hit = texts.find(t => /^\\d+ selected$/.test(t));
    return hit !== undefined && hit !== before;
}"""


def import_photos(workspace, tmp_path, n: int = 8) -> None:
    """n tiny unlabelled photos through the CLI (ids 1..n; the gallery shows them newest first)."""
    paths = []
    for i in range(n):
        path = tmp_path / f"bolt_{i}.jpg"
        path.write_bytes(demo.render_crop(200 + i, ("normal", "broken", "missing")[i % 3]).jpeg)
        paths.append(str(path))
    subprocess.run(
        [sys.executable, "-m", "core", "--workspace", str(workspace), "import", *paths, "--user", "e2e-tester"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )


def db_rows(workspace) -> dict[int, tuple[str | None, bool]]:
    """{image id: (label, in the trash)} from the database."""
    with sqlite3.connect(workspace / "boltscope.db") as conn:
        rows = conn.execute("SELECT id, label, deleted_at IS NOT NULL FROM images").fetchall()
    return {row[0]: (row[1], bool(row[2])) for row in rows}


def boxes(page) -> dict[int, bool]:
    """The boxes once each has mounted its input (a widget's container can arrive before the widget)."""
    page.wait_for_function(f"() => !Object.values(({BOXES_JS})()).includes(null)", timeout=WAIT_MS)
    return {int(k): v for k, v in page.evaluate(BOXES_JS).items()}


def selected_text(page) -> str | None:
    texts = page.locator("[data-testid=stMarkdownContainer]").all_inner_texts()
    return next((t.strip() for t in texts if SELECTED.match(t.strip())), None)


def settle(page, text: str | re.Pattern) -> None:
    """Wait for the outcome of an action (its flash or another text it draws), then for the rerun to end."""
    page.get_by_text(text, exact=True).first.wait_for(timeout=WAIT_MS)
    page.wait_for_function(IDLE_JS, timeout=WAIT_MS)


def tick(page, image_id: int) -> str:
    """Tick one box; wait for the rerun that follows it (the 'n selected' count changes); the new count."""
    before = selected_text(page)
    page.locator(f".st-key-sel_{image_id} label").click()
    page.wait_for_function(SELECTED_JS, arg=before, timeout=WAIT_MS)
    return selected_text(page)


def assert_all_unticked(page, where: str) -> None:
    ticked = sorted(i for i, checked in boxes(page).items() if checked)
    assert not ticked, f"{where}: boxes still ticked in the browser: {ticked}"


def open_gallery(page, url, workspace, tmp_path) -> None:
    import_photos(workspace, tmp_path)
    page.goto(url)
    page.locator(".st-key-sel_8").wait_for(timeout=WAIT_MS)
    page.wait_for_function(IDLE_JS, timeout=WAIT_MS)
    assert sorted(boxes(page)) == list(range(1, 9))
    assert_all_unticked(page, "a fresh page")


def test_bulk_relabel_unticks_and_next_tick_selects_one(app_server, page, tmp_path):
    url, workspace = app_server
    open_gallery(page, url, workspace, tmp_path)
    before = db_rows(workspace)
    assert all(label is None for label, _ in before.values())

    for image_id, count in ((2, "1 selected"), (5, "2 selected"), (7, "3 selected")):
        assert tick(page, image_id) == count
    page.locator(".st-key-bulk_broken button").click()
    settle(page, "3 photo(s) relabelled as broken.")
    page.screenshot(path=str(tmp_path / "01-after-bulk.png"), full_page=True)
    assert_all_unticked(page, "after the bulk relabel")  # (a)
    assert selected_text(page) == "0 selected"
    after = db_rows(workspace)
    assert {i for i in after if after[i] != before[i]} == {2, 5, 7}  # (b)
    assert all(after[i] == ("broken", False) for i in (2, 5, 7))

    relabel_just(page, workspace, 3, "missing")  # (c): the earlier three do not come back


def relabel_just(page, workspace, image_id: int, label: str) -> None:
    """Tick one box, press a label button: exactly that photo changes, and every box is unticked after."""
    before = db_rows(workspace)
    assert tick(page, image_id) == "1 selected"
    assert {i for i, checked in boxes(page).items() if checked} == {image_id}
    page.locator(f".st-key-bulk_{label} button").click()
    settle(page, f"1 photo(s) relabelled as {label}.")
    assert_all_unticked(page, f"after relabelling #{image_id}")
    after = db_rows(workspace)
    assert {i for i in after if after[i] != before[i]} == {image_id}
    assert after[image_id] == (label, False)


def test_trash_restore_select_page_and_none(app_server, page, tmp_path):
    url, workspace = app_server
    open_gallery(page, url, workspace, tmp_path)
    for image_id in (2, 5, 7):
        tick(page, image_id)
    page.locator(".st-key-bulk_trash button").click()
    settle(page, "3 photo(s) moved to the trash.")
    assert_all_unticked(page, "after moving to the trash")
    assert sorted(boxes(page)) == [1, 3, 4, 6, 8]
    assert {i for i, (_, trashed) in db_rows(workspace).items() if trashed} == {2, 5, 7}

    page.get_by_role("tab", name="Trash").click()
    settle(page, "Restore selected")
    page.locator(".st-key-sel_5").wait_for(timeout=WAIT_MS)
    page.wait_for_function(IDLE_JS, timeout=WAIT_MS)
    assert_all_unticked(page, "the trash, after moving there")  # the trashed photos do not arrive ticked
    page.locator(".st-key-sel_5 label").click()
    page.wait_for_function("() => !document.querySelector('.st-key-trash_restore button').disabled", timeout=WAIT_MS)
    page.wait_for_function(IDLE_JS, timeout=WAIT_MS)
    page.locator(".st-key-trash_restore button").click()
    settle(page, "1 photo(s) restored.")
    assert_all_unticked(page, "after restoring")  # the restored photo comes back unticked, in both tabs
    assert {i for i, (_, trashed) in db_rows(workspace).items() if trashed} == {2, 7}

    page.get_by_role("tab", name="Gallery").click()
    page.locator(".st-key-sel_5").wait_for(timeout=WAIT_MS)
    page.wait_for_function(IDLE_JS, timeout=WAIT_MS)
    assert_all_unticked(page, "the gallery, after restoring")
    assert selected_text(page) == "0 selected"

    page.locator(".st-key-select_page button").click()
    settle(page, "6 selected")
    assert boxes(page) == {i: True for i in (1, 3, 4, 5, 6, 8)}
    page.locator(".st-key-select_none button").click()
    settle(page, "0 selected")
    assert_all_unticked(page, "after clearing the selection")

    relabel_just(page, workspace, 4, "normal")


def server_pid(url: str) -> int:
    """The Streamlit process this test's fixture started, found by its port."""
    port = url.rsplit(":", 1)[1]
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            args = (proc / "cmdline").read_bytes().split(b"\0")
            if (
                b"streamlit" in b" ".join(args)
                and b"--server.port" in args
                and args[args.index(b"--server.port") + 1] == port.encode()
            ):
                return int(proc.name)
    raise AssertionError(f"no streamlit process on port {port}")


@contextlib.contextmanager
def server_paused(url: str):
    """The server stopped (SIGSTOP) while the browser acts, as a server busy under load: what the browser sends
    meanwhile waits in the socket and arrives at once when it goes on."""
    pid = server_pid(url)
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


# counts what the page sends on its websocket (and keeps the socket, to read how much is still buffered), and
# the reruns that have ended (the app's script state turning to notRunning)
COUNT_SENDS_JS = """(() => {
    window.__sent = 0;
    window.__runs = 0;
    new MutationObserver(changes => changes.forEach(c => {
        if (c.target.dataset.testScriptState === 'notRunning') window.__runs += 1;
    })).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-test-script-state']});
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (data) {
        window.__sent += 1;
        window.__ws = this;
        return send.call(this, data);
    };
})()"""


def click_together(page, url: str, *selectors: str) -> None:
    """Click these while the server is busy (stopped): it gets the changes together, faster than the rerun between
    them. The server goes on once the browser has sent one message per click and its socket has nothing buffered."""
    sent = page.evaluate("() => window.__sent")
    with server_paused(url):
        page.evaluate("(sels) => sels.forEach(s => document.querySelector(s).click())", list(selectors))
        page.wait_for_function(
            "(n) => window.__sent >= n && window.__ws.bufferedAmount === 0", arg=sent + len(selectors), timeout=WAIT_MS
        )


@pytest.mark.parametrize(
    ("change", "button", "expected"),
    [(5, "bulk_broken", {2, 7}), (3, "bulk_broken", {2, 3, 5, 7}), (5, "bulk_trash", {2, 7})],
    ids=["untick-then-relabel", "tick-then-relabel", "untick-then-trash"],
)
def test_bulk_acts_on_the_boxes_ticked_when_clicked(app_server, page, tmp_path, change, button, expected):
    """A box changed just before a bulk button, faster than the rerun between them: the action takes the boxes
    as they are when it is clicked, not as they were when the button was drawn."""
    url, workspace = app_server
    page.add_init_script(COUNT_SENDS_JS)
    open_gallery(page, url, workspace, tmp_path)
    for image_id in (2, 5, 7):
        tick(page, image_id)
    before = db_rows(workspace)
    click_together(page, url, f".st-key-sel_{change} input[type=checkbox]", f".st-key-{button} button")
    settle(page, re.compile(r"^\d+ photo\(s\) (relabelled as broken|moved to the trash)\.$"))
    after = db_rows(workspace)
    assert {i for i in after if after[i] != before[i]} == expected
    assert_all_unticked(page, "after the bulk relabel")
    assert selected_text(page) == "0 selected"


def ticked(page) -> set[int]:
    """The ticked boxes, checked against the count the selection bar shows: the two always agree."""
    ids = {i for i, checked in boxes(page).items() if checked}
    shown = selected_text(page)
    assert shown == f"{len(ids)} selected", f"the browser shows {sorted(ids)} ticked, the bar says {shown!r}"
    return ids


def filter_labels(page, *texts: str) -> None:
    """Set the Labels filter to these label names (none: any label), and wait for the gallery that follows."""
    box = page.locator(".st-key-f_labels")
    if box.locator("[aria-label='Clear all']").count():  # an earlier choice: clear it first
        box.locator("[aria-label='Clear all']").first.click()
        page.wait_for_function(IDLE_JS, timeout=WAIT_MS)
    for text in texts:
        box.locator("input").click()
        page.get_by_role("option", name=text, exact=True).click()
        page.keyboard.press("Escape")
    page.wait_for_function(IDLE_JS, timeout=WAIT_MS)


def test_filter_round_trip_keeps_boxes_and_selection_together(app_server, page, tmp_path):
    """Boxes ticked, then hidden by a filter and shown again: whatever the browser shows ticked is what the bulk
    relabel changes, and after it nothing is ticked."""
    url, workspace = app_server
    open_gallery(page, url, workspace, tmp_path)
    for image_id in (2, 5, 7):
        tick(page, image_id)
    page.locator(".st-key-bulk_broken button").click()
    settle(page, "3 photo(s) relabelled as broken.")
    for image_id in (3, 4):
        tick(page, image_id)

    filter_labels(page, "broken")
    page.wait_for_function("() => !document.querySelector('.st-key-sel_8')", timeout=WAIT_MS)
    page.wait_for_function(IDLE_JS, timeout=WAIT_MS)
    assert sorted(boxes(page)) == [2, 5, 7]
    assert ticked(page) == set()  # relabelled earlier: unticked, though now shown by a new filter
    assert tick(page, 5) == "1 selected"

    filter_labels(page)
    page.locator(".st-key-sel_8").wait_for(timeout=WAIT_MS)
    page.wait_for_function(IDLE_JS, timeout=WAIT_MS)
    page.screenshot(path=str(tmp_path / "01-filter-cleared.png"), full_page=True)
    # 3 and 4 were not drawn under the filter, so Streamlit dropped their boxes' state: they come back unticked
    assert ticked(page) == {5}
    before = db_rows(workspace)
    page.locator(".st-key-bulk_missing button").click()
    settle(page, "1 photo(s) relabelled as missing.")
    after = db_rows(workspace)
    assert {i for i in after if after[i] != before[i]} == {5}
    assert ticked(page) == set()


def test_restore_acts_on_the_boxes_ticked_when_clicked(app_server, page, tmp_path):
    """The same in the trash: a box unticked just before "Restore selected" is not restored."""
    url, workspace = app_server
    page.add_init_script(COUNT_SENDS_JS)
    open_gallery(page, url, workspace, tmp_path)
    for image_id in (2, 5, 7):
        tick(page, image_id)
    page.locator(".st-key-bulk_trash button").click()
    settle(page, "3 photo(s) moved to the trash.")
    page.get_by_role("tab", name="Trash").click()
    page.locator(".st-key-sel_5").wait_for(timeout=WAIT_MS)
    page.wait_for_function(IDLE_JS, timeout=WAIT_MS)
    for image_id in (2, 5):  # the trash shows no count: wait for the rerun each tick starts to end
        runs = page.evaluate("() => window.__runs")
        page.locator(f".st-key-sel_{image_id} label").click()
        page.wait_for_function(f"() => window.__runs > {runs} && ({IDLE_JS})()", timeout=WAIT_MS)
    assert page.locator(".st-key-trash_restore button").is_enabled()
    assert {i for i, checked in boxes(page).items() if checked} == {2, 5}
    click_together(page, url, ".st-key-sel_5 input[type=checkbox]", ".st-key-trash_restore button")
    settle(page, re.compile(r"^\d+ photo\(s\) restored\.$"))
    assert {i for i, (_, trashed) in db_rows(workspace).items() if trashed} == {5, 7}
    assert_all_unticked(page, "after restoring")
