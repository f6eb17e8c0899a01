"""API tokens: only the SHA-256 of a secret is stored, a revoked token is refused at once, add/revoke/use are
audited, the role is the token's, and an admin is needed to make or end one."""

from __future__ import annotations

import argparse
import hashlib
import json

import pytest

from core import audit, auth, tokens
from core.cli import tokens as cli_tokens
from core.errors import NotFoundError, PermissionDenied, ValidationError

ADMIN = auth.Actor("alice", "admin")


def test_the_secret_is_shown_once_and_only_its_hash_is_stored(ws):
    token, secret = tokens.add_token(ws.conn, ADMIN, "cam-1", "viewer")
    assert secret.startswith("bst_") and len(secret) >= 40 and token.role == "viewer"
    dump = "\n".join(ws.conn.iterdump())
    assert secret not in dump and secret[4:] not in dump
    assert hashlib.sha256(secret.encode()).hexdigest() in dump
    listed = tokens.list_tokens(ws.conn)
    assert [t.name for t in listed] == ["cam-1"]
    assert secret not in repr(listed) and "token_hash" not in repr(listed)
    assert all(secret not in json.dumps(e.details) for e in audit.query(ws.conn))
    second = tokens.add_token(ws.conn, ADMIN, "cam-2", "viewer")[1]
    assert second != secret


def test_authenticate_gives_the_tokens_role_and_audits_each_use(ws):
    _, secret = tokens.add_token(ws.conn, ADMIN, "line3", "labeler")
    actor = tokens.check_token(ws.conn, secret, client="10.0.0.7:5555", endpoint="POST /v1/diagnose")
    assert actor == auth.Actor("token:line3", "labeler")
    tokens.check_token(ws.conn, secret, client="10.0.0.7:5556", endpoint="GET /v1/inspections")
    uses = audit.query(ws.conn, actions=("token.use",))
    assert [e.details["endpoint"] for e in uses] == ["GET /v1/inspections", "POST /v1/diagnose"]
    assert {e.user for e in uses} == {"token:line3"} and uses[0].details["client"] == "10.0.0.7:5556"
    assert tokens.list_tokens(ws.conn)[0].last_used is not None


def test_revoked_and_unknown_secrets_are_refused_alike(ws):
    _, secret = tokens.add_token(ws.conn, ADMIN, "cam", "viewer")
    revoked = tokens.revoke_token(ws.conn, ADMIN, "cam")
    assert revoked.revoked_by == "alice" and not revoked.live
    messages = []
    for bad in (secret, "bst_" + "x" * 43, "", None, "y" * 10_000):
        with pytest.raises(tokens.TokenRefused) as refused:
            tokens.check_token(ws.conn, bad, endpoint="POST /v1/diagnose")
        messages.append((str(refused.value), refused.value.key))
    assert len(set(messages)) == 1  # nothing tells a revoked token from an unknown one
    # the revoked token's attempt is audited under its name; unknown secrets leave no audit row
    uses = audit.query(ws.conn, actions=("token.use",))
    assert len(uses) == 1 and uses[0].details["refused"] == "revoked" and uses[0].target == "cam"
    assert tokens.list_tokens(ws.conn) == [] and len(tokens.list_tokens(ws.conn, include_revoked=True)) == 1


def test_a_name_can_be_given_again_after_revoking_and_not_before(ws):
    _, first = tokens.add_token(ws.conn, ADMIN, "cam", "viewer")
    with pytest.raises(ValidationError, match="exists already"):
        tokens.add_token(ws.conn, ADMIN, "cam", "admin")
    tokens.revoke_token(ws.conn, ADMIN, "cam")
    _, again = tokens.add_token(ws.conn, ADMIN, "cam", "trainer")
    assert tokens.check_token(ws.conn, again).role == "trainer"
    with pytest.raises(tokens.TokenRefused):
        tokens.check_token(ws.conn, first)
    with pytest.raises(NotFoundError):
        tokens.revoke_token(ws.conn, ADMIN, "never-made")


@pytest.mark.parametrize("name", ["", "a b", "token:x", "../x", "-lead", "x" * 65, "카메라", "cam\n"])
def test_bad_names_and_roles_are_refused_before_anything_is_stored(ws, name):
    before = list(ws.conn.iterdump())
    with pytest.raises(ValidationError):
        tokens.add_token(ws.conn, ADMIN, name, "viewer")
    with pytest.raises(ValidationError, match="role 'root' is unknown"):
        tokens.add_token(ws.conn, ADMIN, "fine", "root")
    assert list(ws.conn.iterdump()) == before


def test_only_an_admin_makes_or_ends_tokens_and_both_are_audited(ws):
    trainer = auth.Actor("tim", "trainer")
    with pytest.raises(PermissionDenied, match="needs role 'admin'"):
        tokens.add_token(ws.conn, trainer, "cam", "viewer")
    tokens.add_token(ws.conn, ADMIN, "cam", "viewer")
    with pytest.raises(PermissionDenied):
        tokens.revoke_token(ws.conn, trainer, "cam")
    tokens.revoke_token(ws.conn, ADMIN, "cam")
    entries = audit.query(ws.conn, actions=("token.add", "token.revoke", "refused"))
    assert [(e.user, e.action, e.target) for e in reversed(entries)] == [
        ("tim", "refused", "tokens"),
        ("alice", "token.add", "cam"),
        ("tim", "refused", "tokens"),
        ("alice", "token.revoke", "cam"),
    ]


def _args(**values) -> argparse.Namespace:
    return argparse.Namespace(**{"name": None, "role": None, "all": False, "json": True, "user": "alice", **values})


def test_the_cli_prints_the_token_once_lists_and_revokes(ws, capsys, monkeypatch):
    monkeypatch.delenv("BOLTSCOPE_USER", raising=False)
    assert cli_tokens.cmd_token(ws, _args(action="add", name="cam", role="viewer")) == 0
    made = json.loads(capsys.readouterr().out)
    assert set(made) == {"name", "token"} and made["name"] == "cam"
    assert tokens.check_token(ws.conn, made["token"]).name == "token:cam"
    cli_tokens.cmd_token(ws, _args(action="list"))
    listed = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in listed] == ["cam"] and made["token"] not in json.dumps(listed)
    cli_tokens.cmd_token(ws, _args(action="revoke", name="cam"))
    assert json.loads(capsys.readouterr().out)["revoked_at"]
    cli_tokens.cmd_token(ws, _args(action="list", all=True))
    assert json.loads(capsys.readouterr().out)[0]["live"] is False
    with pytest.raises(ValidationError, match="--role"):
        cli_tokens.cmd_token(ws, _args(action="add", name="cam2"))
