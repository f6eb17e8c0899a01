"""`token add NAME --role R` (prints the secret once), `token list [--all] --json`, `token revoke NAME`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import asdict

from core import auth, cli, tokens
from core.errors import ValidationError
from core.workspace import Workspace


def cmd_token(ws: Workspace, args: argparse.Namespace) -> int:
    if args.action == "list":
        cli.print_json([{**asdict(t), "live": t.live} for t in tokens.list_tokens(ws.conn, args.all)])
        return 0
    if not args.name:
        raise ValidationError(f"`token {args.action}` needs a token name")
    me = auth.local_actor(args.user)
    if args.action == "add":
        if not args.role:
            raise ValidationError("`token add NAME` needs --role (viewer for a camera that inspects)")
        token, secret = tokens.add_token(ws.conn, me, args.name, args.role)
        cli.print_json({"name": token.name, "token": secret})  # shown this once, never again
    else:
        token = tokens.revoke_token(ws.conn, me, args.name)
        cli.print_json({"name": token.name, "revoked_at": token.revoked_at})
    return 0


def add_commands(add: Callable[[str, Callable, str], argparse.ArgumentParser]) -> None:
    p = add("token", cmd_token, "API tokens for cameras and other systems: add (prints the token once), list, revoke")
    p.add_argument("action", choices=("add", "list", "revoke"))
    p.add_argument("name", nargs="?")
    p.add_argument("--role", choices=auth.ROLES, help="what the token may do (add)")
    p.add_argument("--all", action="store_true", help="list revoked tokens too")
    p.add_argument("--json", action="store_true", help="JSON output (the only format; accepted for symmetry)")
    p.add_argument("--user", help="who makes the change (default: $BOLTSCOPE_USER or the login name)")
    p.set_defaults(read_only_ok=lambda args: args.action == "list")  # listing works on a read-only workspace
