"""Every mutating core function refuses a role below the one its action needs, and changes nothing.

The table below must name every public core function that takes an actor (found by introspection), so a new
mutating function cannot slip in without a refusal test."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import core
from core import (
    auth,
    backup,
    dataset_export,
    demo,
    distillation,
    doctor,
    evaluation,
    familiarity_cut,
    health,
    ingest,
    inspection_dataset,
    inspections,
    jobs,
    label_set,
    review,
    runs,
    signin,
    stations,
    store,
    tokens,
    users,
)
from core.errors import PermissionDenied
from core.ml import diagnosis, export
from tests.core.train_helpers import ADMIN, add_demo, tiny_config

# Not role-gated: checks themselves, and a session for whoever has just proven who they are (any role signs in).
NOT_MUTATING = {"auth.can", "auth.require", "users.current", "sessions.create"}
# Open to every role, and what they write is that user's own work: an inspection record (every role inspects
# with the stations there are) and the audit entry of a report downloaded. tests/core/test_inspections_record.py
# shows a viewer recording; the refusal table below has no role to refuse them to.
EVERY_ROLE = {
    "inspections.record_inspection",
    "inspect.inspect_data",
    "inspect.inspect_files",
    "inspection_report.inspection_pdf",
    "inspection_report.summary_pdf",
}


def below(action: str) -> auth.Actor | None:
    """An actor one role below the least role the action needs (None when the least role is viewer)."""
    index = auth.ROLES.index(auth.ACTION_MIN_ROLE[action])
    return auth.Actor("mallory", auth.ROLES[index - 1]) if index else None


# function name -> (action, call with (ws, actor))
CALLS = {
    "backup.backup": ("settings", lambda ws, a: backup.backup(ws, a, ws.layout.root.parent / "bk")),
    "backup.restore": (
        "restore",
        lambda ws, a: backup.restore(ws.layout.root.parent / "bk", ws.layout.root.parent / "restored", a),
    ),
    "doctor.run": ("settings", lambda ws, a: doctor.run(ws, a)),
    "diagnosis.save_with_label": (
        "upload",
        lambda ws, a: diagnosis.save_with_label(
            ws, a, diagnosis.Diagnosis("x.jpg", b"", None, 1, 1, [], None), "normal"
        ),
    ),  # type: ignore[arg-type]
    "diagnosis.send_to_review": (
        "upload",
        lambda ws, a: diagnosis.send_to_review(ws, a, diagnosis.Diagnosis("x.jpg", b"", None, 1, 1, [], None), 1),
    ),  # type: ignore[arg-type]
    "review.request_review": ("upload", lambda ws, a: review.request_review(ws.conn, a, 1, "unfamiliar")),
    "familiarity_cut.set_cut_percentile": (
        "settings",
        lambda ws, a: familiarity_cut.set_cut_percentile(ws.conn, a, 97.0),
    ),
    "evaluation.promote": ("promote", lambda ws, a: evaluation.promote(ws.conn, a, 1)),
    "evaluation.store_operating_point": ("promote", lambda ws, a: evaluation.store_operating_point(ws.conn, a, 1)),
    "export.export_run": ("export", lambda ws, a: export.export_run(ws, a, 1, "onnx", ws.layout.exports / "m.onnx")),
    "export.export_to_workspace": ("export", lambda ws, a: export.export_to_workspace(ws, a, 1, "onnx")),
    "dataset_export.export_folder": (
        "export",
        lambda ws, a: dataset_export.export_folder(ws, a, ws.layout.root.parent / "out"),
    ),
    "dataset_export.export_zip": ("export", lambda ws, a: dataset_export.export_zip(ws, a)),
    "ingest.import_paths": ("upload", lambda ws, a: ingest.import_paths(ws, a, [str(ws.layout.root)])),
    "ingest.import_sources": ("upload", lambda ws, a: ingest.import_sources(ws, a, [], None, None, "import", "import")),
    "ingest.import_uploads": ("upload", lambda ws, a: ingest.import_uploads(ws, a, [("a.jpg", b"x")])),
    "jobs.cancel": ("cancel", lambda ws, a: jobs.cancel(ws.conn, a, 1)),
    "jobs.resume": ("train", lambda ws, a: jobs.resume(ws.conn, a, 1)),
    "jobs.submit": ("train", lambda ws, a: jobs.submit(ws.conn, a, tiny_config())),
    "jobs.submit_sweep": ("train", lambda ws, a: jobs.submit_sweep(ws.conn, a, tiny_config(), [8], [0.01])),
    "distillation.submit_distillation": ("train", lambda ws, a: distillation.submit_distillation(ws.conn, a)),
    "review.record_decision": (
        "relabel",
        lambda ws, a: review.record_decision(
            ws.conn, a, review.Item(1, "suspect", "normal", "broken", 0.9), "relabel", "broken"
        ),
    ),
    "runs.record_promotion": ("promote", lambda ws, a: runs.record_promotion(ws.conn, a, 1, False, "x")),
    "runs.set_operating_point": ("promote", lambda ws, a: runs.set_operating_point(ws.conn, a, 1, {"t": 1})),
    "label_set.add_label": ("settings", lambda ws, a: label_set.add_label(ws.conn, a, "rusty", "rusty", "녹")),
    "store.insert_images": ("upload", lambda ws, a: store.insert_images(ws.conn, a, [], "import", (0.7, 0.15, 0.15))),
    "store.relabel": ("relabel", lambda ws, a: store.relabel(ws.conn, a, [1], "broken")),
    "store.save_split_settings": ("split", lambda ws, a: store.save_split_settings(ws.conn, a, (0.6, 0.2, 0.2), True)),
    "store.set_trashed": ("delete", lambda ws, a: store.set_trashed(ws.conn, a, [1], True)),
    "demo.trash_all": ("delete", lambda ws, a: demo.trash_all(ws.conn, a)),
    "health.keep_pair": ("relabel", lambda ws, a: health.keep_pair(ws.conn, a, 1, 3)),
    "store.set_trashed(restore)": ("restore", lambda ws, a: store.set_trashed(ws.conn, a, [2], False)),
    "users.add": ("users", lambda ws, a: users.add(ws.conn, a, "eve", "admin", "a long password")),
    "users.set_disabled": ("users", lambda ws, a: users.set_disabled(ws.conn, a, "root", True)),
    "users.set_password": ("users", lambda ws, a: users.set_password(ws.conn, a, "root", "a long password")),
    "users.set_role": ("users", lambda ws, a: users.set_role(ws.conn, a, "root", "viewer")),
    "signin.unlock": ("users", lambda ws, a: signin.unlock(ws.conn, a, "root")),
    "stations.add_station": (
        "station",
        lambda ws, a: stations.add_station(ws, a, "s1", b"x", [stations.Position("P1", (0, 0, 1, 1))]),
    ),
    "stations.update_station": ("station", lambda ws, a: stations.update_station(ws, a, "s1", margin=0.5)),
    "inspections.correct": ("relabel", lambda ws, a: inspections.correct(ws, a, 1, "P1", "broken")),
    "inspection_dataset.to_dataset": ("upload", lambda ws, a: inspection_dataset.to_dataset(ws, a, 1, True)),
    "tokens.add_token": ("tokens", lambda ws, a: tokens.add_token(ws.conn, a, "cam", "viewer")),
    "tokens.revoke_token": ("tokens", lambda ws, a: tokens.revoke_token(ws.conn, a, "cam")),
}


def functions_taking_an_actor() -> set[str]:
    found = set()
    for info in pkgutil.walk_packages(core.__path__, "core."):  # core/ml and every other subpackage too
        short = info.name.rsplit(".", 1)[-1]
        if info.ispkg or short.startswith("cli") or ".cli." in info.name or short in ("__main__", "ddp"):
            continue
        module = importlib.import_module(info.name)
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if (
                fn.__module__ == module.__name__
                and not name.startswith("_")
                and "actor" in inspect.signature(fn).parameters
            ):
                found.add(f"{short}.{name}")
    return found - NOT_MUTATING - EVERY_ROLE


def test_the_table_names_every_core_function_that_takes_an_actor():
    assert functions_taking_an_actor() == {name.split("(")[0] for name in CALLS}


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    from core.workspace import open_workspace

    ws = open_workspace(tmp_path_factory.mktemp("roles") / "ws")
    add_demo(ws, 12)
    store.set_trashed(ws.conn, ADMIN, [2], True)
    users.add(ws.conn, ADMIN, "root", "admin", "a long password")
    jobs.submit(ws.conn, ADMIN, tiny_config())
    yield ws
    ws.close()


def dump(ws) -> list[str]:
    """The whole database, less the audit rows of refusals (audited since issue 14: test_audit_gaps.py)."""
    return [line for line in ws.conn.iterdump() if not (line.startswith('INSERT INTO "audit"') and "'refused'" in line)]


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_role_below_is_refused_and_nothing_changes(populated, name):
    action, call = CALLS[name]
    actor = below(action)
    assert actor is not None, f"{name}: {action} is open to viewers, so it must not mutate"
    before = dump(populated)
    files_before = sorted(
        p.relative_to(populated.layout.root)
        for p in populated.layout.root.rglob("*")
        if p.is_file() and not p.name.startswith("boltscope.db")
    )
    with pytest.raises(PermissionDenied, match=f"needs role '{auth.ACTION_MIN_ROLE[action]}'"):
        call(populated, actor)
    assert dump(populated) == before
    assert (
        sorted(
            p.relative_to(populated.layout.root)
            for p in populated.layout.root.rglob("*")
            if p.is_file() and not p.name.startswith("boltscope.db")
        )
        == files_before
    )


def test_a_user_may_change_their_own_password_but_no_one_elses(populated):
    users.add(populated.conn, ADMIN, "vic", "viewer", "first password")
    users.set_password(populated.conn, auth.Actor("vic", "viewer"), "vic", "second password")
    assert signin.authenticate(populated.conn, "vic", "second password") == auth.Actor("vic", "viewer")
    with pytest.raises(PermissionDenied):
        users.set_password(populated.conn, auth.Actor("vic", "viewer"), "root", "taken over!")
