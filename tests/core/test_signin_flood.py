"""Issue 14, point 3: sign-in input is bounded before anything is looked up, hashed or stored; failures of unknown
or malformed names reach the audit truncated and escaped; one client's failures make it wait; a database that
cannot record (disk full) refuses sign-in with that reason instead of a traceback, and still counts the guess."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core import audit, auth, db, signin, users
from core.errors import PermissionDenied, SignInRefused, StorageError, ValidationError

ADMIN = auth.Actor("root", "admin")
HUGE = "A" * (5 * 1024 * 1024)


class Clock:
    """The audit's clock (db.now_iso), moved by the test: no sleeps."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> str:
        return self.now.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(db, "now_iso", fake)
    return fake


def audit_chars(conn) -> int:
    return conn.execute(
        "SELECT COALESCE(SUM(length(user) + length(target) + length(details)), 0) FROM audit"
    ).fetchone()[0]


def test_ten_five_megabyte_names_are_refused_and_the_audit_grows_by_a_bounded_amount(ws, clock):
    users.add(ws.conn, ADMIN, "root", "admin", "long enough!")
    before_rows, before_chars = len(audit.query(ws.conn)), audit_chars(ws.conn)
    for i in range(10):
        with pytest.raises(SignInRefused) as refused:
            signin.authenticate(ws.conn, HUGE + str(i), "whatever", client=f"10.0.0.{i}")
        assert refused.value.key == "signin.name_invalid" and len(str(refused.value)) < 200
        clock.advance(1)
    failed = audit.query(ws.conn, actions=("sign_in.failed",))
    assert len(failed) == 10 and len(audit.query(ws.conn)) == before_rows + 10
    assert audit_chars(ws.conn) - before_chars < 10 * 400  # was 10 × 5 MB
    entry = failed[0]
    assert entry.user == "?" and entry.details["reason"] == "malformed name"
    assert entry.target.startswith("A" * 64) and entry.target.endswith(f"…(+{len(HUGE) + 1 - 64})")


def test_a_malformed_name_is_kept_escaped_never_as_typed(ws, clock):
    with pytest.raises(SignInRefused):
        signin.authenticate(ws.conn, "root\n2026-12-03 admin signed in\x1b[2J", "whatever")
    [entry] = audit.query(ws.conn, actions=("sign_in.failed",))
    assert "\n" not in entry.target and "\x1b" not in entry.target and "\\n" in entry.target


def test_a_huge_password_is_refused_without_hashing_and_counts_as_a_guess(ws, clock, monkeypatch):
    users.add(ws.conn, ADMIN, "root", "admin", "long enough!")
    hashed = []

    class Spy:  # PasswordHasher has slots: stand in for it
        def verify(self, *args):
            hashed.append(args)
            return False

    monkeypatch.setattr(users, "HASHER", Spy())
    with pytest.raises(SignInRefused, match="wrong user name or password"):
        signin.authenticate(ws.conn, "root", HUGE)
    assert not hashed
    [entry] = audit.query(ws.conn, actions=("sign_in.failed",))
    assert entry.details == {"counted": True, "reason": "password too long"}


def test_account_creation_refuses_huge_names_passwords_and_emails_before_storing(ws):
    for name, password, email, key in [
        (HUGE, "long enough!", None, "session.user_name_invalid"),
        ("kim\n", "long enough!", None, "session.user_name_invalid"),
        ("kim", HUGE, None, "session.user_password_long"),
        ("kim", None, "a@" + HUGE, "session.user_email_invalid"),
    ]:
        with pytest.raises(ValidationError) as refused:
            users.add(ws.conn, ADMIN, name, "viewer", password, email)
        assert refused.value.key == key and len(str(refused.value)) < 300
        assert all(len(str(v)) < 300 for v in refused.value.detail.values())
    assert users.list_users(ws.conn) == [] and audit.query(ws.conn) == []
    users.add(ws.conn, ADMIN, "root", "admin", "long enough!")
    with pytest.raises(ValidationError, match="at most 1024"):
        users.set_password(ws.conn, ADMIN, "root", "x" * 1025)


def test_failures_from_one_client_make_it_wait_longer_each_time(ws, clock):
    users.add(ws.conn, ADMIN, "lee", "labeler", "long enough!")
    for i in range(signin.BACKOFF_AFTER):  # different names: no lock, only the client's own record
        with pytest.raises(SignInRefused, match="wrong"):
            signin.authenticate(ws.conn, f"guess{i}", "nope nope", client="10.1.1.1")
    with pytest.raises(SignInRefused) as waiting:
        signin.authenticate(ws.conn, "lee", "long enough!", client="10.1.1.1")
    assert waiting.value.key == "signin.backoff" and waiting.value.detail == {"seconds": 1}
    rows = len(audit.query(ws.conn))
    for _ in range(50):  # hammering while it waits writes nothing
        with pytest.raises(SignInRefused, match="wait"):
            signin.authenticate(ws.conn, "nobody", "nope nope", client="10.1.1.1")
    assert len(audit.query(ws.conn)) == rows
    assert signin.authenticate(ws.conn, "lee", "long enough!", client="10.2.2.2") == auth.Actor("lee", "labeler")
    clock.advance(1)
    with pytest.raises(SignInRefused, match="wrong"):
        signin.authenticate(ws.conn, "nobody", "nope nope", client="10.1.1.1")
    with pytest.raises(SignInRefused) as waiting:
        signin.authenticate(ws.conn, "lee", "long enough!", client="10.1.1.1")
    assert waiting.value.detail == {"seconds": 2}  # 1, 2, 4 … seconds after each further failure
    clock.advance(2)
    assert signin.authenticate(ws.conn, "lee", "long enough!", client="10.1.1.1") == auth.Actor("lee", "labeler")


def test_a_full_database_refuses_sign_in_with_the_reason_and_still_counts_the_guess(ws, clock, monkeypatch):
    monkeypatch.setattr(signin, "_UNRECORDED", {})  # this process's memory of unrecorded failures, for this test only
    users.add(ws.conn, ADMIN, "root", "admin", "long enough!")
    users.add(ws.conn, ADMIN, "kim", "trainer", "long enough!")
    pages = ws.conn.execute("PRAGMA page_count").fetchone()[0]
    ws.conn.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full: no page more
    for size in (400, 40, 1):  # and the pages there are, filled
        while True:
            try:
                audit.record_now(ws.conn, "filler", "settings", "x" * size)
            except StorageError:
                break
    try:
        with pytest.raises(SignInRefused) as refused:
            signin.authenticate(ws.conn, "root", "long enough!")
        assert refused.value.key == "signin.unrecorded" and "disk is full" in str(refused.value)
        for _ in range(signin.LOCKOUT_FAILURES):
            with pytest.raises(SignInRefused, match="disk is full"):
                signin.authenticate(ws.conn, "kim", "guess guess")
    finally:
        ws.conn.execute("PRAGMA max_page_count = 1073741823")
    with pytest.raises(PermissionDenied, match="too many failed sign-ins"):  # the unrecorded guesses counted
        signin.authenticate(ws.conn, "kim", "long enough!")
    assert signin.authenticate(ws.conn, "root", "long enough!") == auth.Actor("root", "admin")
