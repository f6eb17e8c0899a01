"""Local accounts (argon2 hashes, sign-in, lockout, last admin, SSO mapping) and the append-only audit log
recording every listed action with user and time."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from core import audit, auth, dataset_export, jobs, signin, store, users
from core.errors import NotFoundError, PermissionDenied, ValidationError
from core.ml import export
from tests.conftest import ROOT
from tests.core.train_helpers import ADMIN, promoted_tiny_run, tiny_config


def test_passwords_are_stored_as_argon2id_hashes_only(ws):
    users.add(ws.conn, ADMIN, "kim", "trainer", "plain text secret")
    stored = ws.conn.execute("SELECT password_hash FROM users WHERE name = 'kim'").fetchone()[0]
    assert stored.startswith("$argon2id$") and "plain text secret" not in stored
    assert "plain text secret" not in "\n".join(ws.conn.iterdump())


@pytest.mark.parametrize(
    "name, password, reason",
    [
        ("kim", "wrong one!", "wrong password"),
        ("nobody", "whatever1", "unknown user"),
        ("off", "long enough!", "disabled"),
        ("sso", "anything", "no password (single sign-on only)"),
    ],
)
def test_every_failed_sign_in_gets_the_same_message_and_the_audit_keeps_why(ws, name, password, reason):
    users.add(ws.conn, ADMIN, "kim", "trainer", "long enough!")
    users.add(ws.conn, ADMIN, "off", "labeler", "long enough!")
    users.set_disabled(ws.conn, ADMIN, "off", True)
    users.add(ws.conn, ADMIN, "sso", "viewer", email="sso@plant.example")
    with pytest.raises(PermissionDenied, match="wrong user name or password, or the account is disabled"):
        signin.authenticate(ws.conn, name, password)
    entry = audit.query(ws.conn, actions=("sign_in.failed",))[0]
    assert (entry.target, entry.details["reason"]) == (name, reason)


def test_five_failures_lock_the_name_even_for_the_right_password(ws):
    users.add(ws.conn, ADMIN, "kim", "trainer", "long enough!")
    for _ in range(signin.LOCKOUT_FAILURES):
        with pytest.raises(PermissionDenied):
            signin.authenticate(ws.conn, "kim", "guess guess")
    with pytest.raises(PermissionDenied, match="too many failed sign-ins"):
        signin.authenticate(ws.conn, "kim", "long enough!")


def test_account_rules(ws):
    users.add(ws.conn, ADMIN, "root", "admin", "long enough!")
    with pytest.raises(ValidationError, match="at least 8"):
        users.add(ws.conn, ADMIN, "kim", "viewer", "short")
    with pytest.raises(ValidationError, match="not valid"):
        users.add(ws.conn, ADMIN, "../etc", "viewer", "long enough!")
    with pytest.raises(ValidationError, match="exists already"):
        users.add(ws.conn, ADMIN, "root", "viewer", "long enough!")
    with pytest.raises(ValidationError, match="last active admin"):
        users.set_role(ws.conn, ADMIN, "root", "viewer")
    with pytest.raises(ValidationError, match="last active admin"):
        users.set_disabled(ws.conn, ADMIN, "root", True)
    users.add(ws.conn, ADMIN, "boss", "admin", "long enough!")
    users.set_role(ws.conn, ADMIN, "root", "viewer")
    assert users.get(ws.conn, "root").role == "viewer"


def test_single_sign_on_maps_by_email_then_name(ws):
    users.add(ws.conn, ADMIN, "lee", "labeler", email="Lee@Plant.example")
    users.add(ws.conn, ADMIN, "park", "trainer", "long enough!")
    assert users.actor_for_identity(ws.conn, "lee@plant.example", "Lee L.") == auth.Actor("lee", "labeler")
    assert users.actor_for_identity(ws.conn, None, "park") == auth.Actor("park", "trainer")
    with pytest.raises(NotFoundError, match="no boltscope account"):
        users.actor_for_identity(ws.conn, "stranger@else.example", "stranger")


def test_the_audit_log_is_append_only(ws):
    audit.record_now(ws.conn, "alice", "settings", "labels")
    for sql in ("UPDATE audit SET user = 'bob'", "DELETE FROM audit"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            ws.conn.execute(sql)
    assert [e.user for e in audit.query(ws.conn)] == ["alice"]


def test_each_listed_action_is_audited_with_user_and_time(ws, tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "launch_worker", lambda *a, **k: None)
    run = promoted_tiny_run(ws)  # upload (demo import), train, promote
    trainer = auth.Actor("tara", "trainer")
    photos = store.all_images(ws.conn)[:3]
    ids = [p.id for p in photos]
    changed = store.relabel(ws.conn, ADMIN, ids[:2], "broken")
    assert changed == sum(p.label != "broken" for p in photos[:2])
    store.set_trashed(ws.conn, ADMIN, ids[2:3], True)
    store.set_trashed(ws.conn, ADMIN, ids[2:3], False)
    job = jobs.submit(ws.conn, trainer, tiny_config())
    jobs.cancel(ws.conn, trainer, job)
    jobs.resume(ws.conn, trainer, job)
    export.export_run(ws, trainer, run.id, "torchscript", tmp_path / "m.pt")
    dataset_export.export_zip(ws, ADMIN)
    users.add(ws.conn, ADMIN, "tara", "trainer", "long enough!")
    users.set_role(ws.conn, ADMIN, "tara", "labeler")
    users.set_password(ws.conn, ADMIN, "tara", "longer enough")
    users.set_disabled(ws.conn, ADMIN, "tara", True)
    with pytest.raises(PermissionDenied):
        signin.authenticate(ws.conn, "tara", "longer enough")
    entries = audit.query(ws.conn)
    seen = {e.action for e in entries}
    assert {
        "upload",
        "relabel",
        "delete",
        "restore",
        "train",
        "cancel",
        "resume",
        "promote",
        "export",
        "user.add",
        "user.role",
        "user.password",
        "user.disable",
        "sign_in.failed",
    } <= seen
    relabel = next(e for e in entries if e.action == "relabel")
    assert relabel.user == "alice" and relabel.details == {"label": "broken", "changed": changed, "source": "manual"}
    assert relabel.target == f"#{ids[0]}, #{ids[1]}"
    assert all(e.at.endswith("Z") and e.user for e in entries)
    assert next(e for e in entries if e.action == "promote").target == f"run {run.id}"
    assert len(audit.query(ws.conn, user="tara", actions=("cancel", "resume"))) == 2
    assert audit.query(ws.conn, text="m.pt")[0].action == "export"


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_cli_user_add_reads_the_password_from_stdin_and_audit_exports_csv(ws_path):
    def cli(*args, stdin=""):
        return subprocess.run(
            [sys.executable, "-m", "core", "--workspace", str(ws_path), *args],
            cwd=ROOT,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    out = cli("user", "add", "kim", "--role", "admin", "--password-stdin", stdin="correct horse\n")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["role"] == "admin" and "correct horse" not in out.stdout + out.stderr
    assert cli("user", "add", "lee", "--role", "viewer", stdin="").returncode == 2  # no terminal, no stdin flag
    assert cli("user", "add", "lee", "--role", "viewer", "--password-stdin", stdin="short\n").returncode == 2
    csv_text = cli("audit", "--csv").stdout
    assert csv_text.splitlines()[0] == "id,at,user,action,target,details" and ",user.add,kim," in csv_text


def test_role_changes_are_atomic_with_their_audit_entry(ws, monkeypatch):
    users.add(ws.conn, ADMIN, "root", "admin", "long enough!")
    users.add(ws.conn, ADMIN, "kim", "viewer", "long enough!")

    def broken(*_a, **_k):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(audit, "record", broken)
    with pytest.raises(RuntimeError):
        users.set_role(ws.conn, ADMIN, "kim", "trainer")
    assert users.get(ws.conn, "kim").role == "viewer"  # no change without its entry


def test_account_errors_carry_a_text_key_translated_in_both_languages(ws):
    from core import i18n
    from core.errors import CoreError

    users.add(ws.conn, ADMIN, "root", "admin", "long enough!")
    attempts = [
        lambda: users.add(ws.conn, ADMIN, "kim", "viewer", "short"),
        lambda: users.add(ws.conn, ADMIN, "kim", "viewer", " spaced password "),
        lambda: users.add(ws.conn, ADMIN, "kim", "boss", "long enough!"),
        lambda: users.add(ws.conn, ADMIN, "../etc", "viewer", "long enough!"),
        lambda: users.add(ws.conn, ADMIN, "kim", "viewer", email="not an address"),
        lambda: users.add(ws.conn, ADMIN, "kim", "viewer"),
        lambda: users.add(ws.conn, ADMIN, "root", "viewer", "long enough!"),
        lambda: users.set_role(ws.conn, ADMIN, "nobody", "viewer"),
        lambda: users.set_role(ws.conn, ADMIN, "root", "viewer"),
        lambda: users.actor_for_identity(ws.conn, "stranger@else.example", None),
    ]
    for attempt in attempts:
        with pytest.raises(CoreError) as caught:
            attempt()
        key, detail = caught.value.key, caught.value.detail
        assert key in i18n.EN and key in i18n.KO, (key, str(caught.value))
        assert "{" not in i18n.t(key, "en", **detail) and "{" not in i18n.t(key, "ko", **detail)
