"""4 processes × 250 relabels at the same time on the same photos: all 1,000 label events (and their audit
entries) are recorded and no "database is locked" reaches anyone (writers queue with BEGIN IMMEDIATE)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core import audit, store
from tests.conftest import ROOT
from tests.core.train_helpers import add_demo

WORKER = """
import sys
sys.path.insert(0, {root!r})
from core import auth, store
from core.workspace import open_workspace
ws = open_workspace({ws!r})
me = auth.Actor("proc{n}", "labeler")
labels = ("normal", "broken", "missing")
for i in range(250):
    store.relabel(ws.conn, me, [{ids}[i % {count}]], labels[(i + {n}) % 3], record_unchanged=True)
ws.close()
"""


@pytest.mark.slow
def test_four_processes_relabel_at_once_and_every_event_is_kept(ws):
    add_demo(ws, 6)
    ids = [i.id for i in store.all_images(ws.conn)]
    events_before = ws.conn.execute("SELECT COUNT(*) FROM label_events").fetchone()[0]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER.format(root=str(ROOT), ws=str(ws.settings.workspace), n=n, ids=ids, count=len(ids)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for code, err in results:
        assert code == 0 and "locked" not in err, err
    events = ws.conn.execute("SELECT COUNT(*) FROM label_events").fetchone()[0] - events_before
    assert events == 1000
    for n in range(4):
        assert len(audit.query(ws.conn, user=f"proc{n}", actions=("relabel",))) == 250
    # every photo's label is the last event written for it
    for image in store.all_images(ws.conn):
        assert image.label == store.history(ws.conn, image.id)[-1].new_label
