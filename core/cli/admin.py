"""Commands for the workspace's keeper: accounts, the audit log, doctor, backup and restore."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from dataclasses import asdict

from core import audit, auth, cli, csvfile, familiarity_cut, signin, users
from core.errors import ValidationError
from core.workspace import Workspace


def read_password(args: argparse.Namespace, prompt: str = "password: ") -> str:
    """From stdin with --password-stdin (one line), else asked twice without echo. Never from an argument."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise ValidationError("no terminal to ask for the password; pipe it in with --password-stdin")
    first = getpass.getpass(prompt)
    if getpass.getpass("again: ") != first:
        raise ValidationError("the two passwords differ")
    return first


def cmd_user(ws: Workspace, args: argparse.Namespace) -> int:
    me = auth.local_actor(args.user)
    if args.action == "list":
        cli.print_json([asdict(u) for u in users.list_users(ws.conn)])
        return 0
    if not args.name:
        raise ValidationError(f"`user {args.action}` needs a user name")
    if args.action == "add":
        password = None if args.sso_only else read_password(args)
        user = users.add(ws.conn, me, args.name, args.role or "viewer", password, args.email)
        cli.print_json(asdict(user))
    elif args.action == "role":
        if not args.role:
            raise ValidationError("`user role NAME --role ROLE`")
        users.set_role(ws.conn, me, args.name, args.role)
        cli.print_json({"name": args.name, "role": args.role})
    elif args.action == "passwd":
        users.set_password(ws.conn, me, args.name, read_password(args, f"new password for {args.name}: "))
        cli.print_json({"name": args.name, "password": "changed"})
    elif args.action == "unlock":
        signin.unlock(ws.conn, me, args.name)
        cli.print_json({"name": args.name, "locked": signin.is_locked(ws.conn, args.name)})
    else:
        users.set_disabled(ws.conn, me, args.name, args.action == "disable")
        cli.print_json({"name": args.name, "disabled": args.action == "disable"})
    return 0


def cmd_familiarity_cut(ws: Workspace, args: argparse.Namespace) -> int:
    """The familiarity cut as JSON; with a percentile an admin sets it first (audited)."""
    if args.percentile is not None:
        familiarity_cut.set_cut_percentile(ws.conn, auth.local_actor(args.user), args.percentile)
    cli.print_json({"percentile": familiarity_cut.cut_percentile(ws.conn)})
    return 0


def cmd_audit(ws: Workspace, args: argparse.Namespace) -> int:
    entries = audit.query(
        ws.conn,
        user=args.who,
        actions=tuple(args.action) if args.action else None,
        since=args.since,
        until=args.until,
        text=args.text,
        limit=args.limit,
    )
    if args.csv:
        rows = ([e.id, e.at, e.user, e.action, e.target, json.dumps(e.details, ensure_ascii=False)] for e in entries)
        sys.stdout.write(csvfile.rows_text(["id", "at", "user", "action", "target", "details"], rows))
    else:
        for e in entries:
            cli.print_json(asdict(e))
    return 0


def cmd_doctor(ws: Workspace, args: argparse.Namespace) -> int:
    from core import doctor

    report = doctor.run(ws, auth.local_actor(args.user), repair=not args.dry_run)
    cli.print_json(report.to_json())
    return 0 if report.consistent else 1


def cmd_backup(ws: Workspace, args: argparse.Namespace) -> int:
    from core import backup

    cli.print_json(backup.backup(ws, auth.local_actor(args.user), args.dir))
    return 0


def cmd_restore(_ws: None, args: argparse.Namespace) -> int:
    """Runs without opening the target first (that would create it)."""
    from core import backup, config, doctor
    from core.workspace import open_workspace

    me = auth.local_actor(args.user)
    target = config.load_settings(args.workspace).workspace
    result = backup.restore(args.dir, target, me, force=args.force)
    ws = open_workspace(target)
    try:
        report = doctor.run(ws, me)  # caches are not in a backup: rebuild them
        audit.record_now(ws.conn, me.name, "restore_backup", args.dir, kept_aside=result["kept_aside"])
    finally:
        ws.close()
    cli.print_json({**result, "doctor": report.to_json()})
    return 0


def add_commands(add: Callable[[str, Callable, str], argparse.ArgumentParser]) -> None:
    p = add("user", cmd_user, "local accounts: add, list, role, passwd, disable, enable, unlock (sign-in lock)")
    p.add_argument("action", choices=("add", "list", "role", "passwd", "disable", "enable", "unlock"))
    p.add_argument("name", nargs="?")
    p.add_argument("--role", choices=auth.ROLES)
    p.add_argument("--email", help="for single sign-on: the e-mail the identity provider reports")
    p.add_argument("--sso-only", action="store_true", help="no password: signs in through single sign-on only")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin (one line)")
    p.add_argument("--user", help="who makes the change (default: $BOLTSCOPE_USER or the login name)")
    p = add("familiarity-cut", cmd_familiarity_cut, "show or set the percentile past which a photo is unfamiliar")
    p.add_argument("percentile", nargs="?", type=float, help="90-99.99 (default 99); without it: show the cut")
    p.add_argument("--user")
    p = add("audit", cmd_audit, "the audit log, newest first (JSON lines or --csv)")
    p.add_argument("--who", help="only this user's entries")
    p.add_argument("--action", action="append", choices=audit.ACTIONS)
    p.add_argument("--since", help="ISO date or time (UTC)")
    p.add_argument("--until", help="ISO date or time (UTC)")
    p.add_argument("--text", help="found in the target or the details")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--csv", action="store_true")
    p.set_defaults(read_only_ok=True)  # works on a read-only workspace (core.cli.main opens it read-only)
    p = add("doctor", cmd_doctor, "check the workspace and repair it (exit 1 when something needs a backup)")
    p.add_argument("--dry-run", action="store_true", help="only report (works on a read-only workspace)")
    p.add_argument("--user")
    p.set_defaults(read_only_ok=lambda args: args.dry_run)
    p = add("backup", cmd_backup, "a consistent copy of the workspace into DIR, safe while the app runs")
    p.add_argument("dir")
    p.add_argument("--user")
    p.set_defaults(read_only_ok=True)
    p = add("restore", cmd_restore, "bring a backup back into the workspace (stop the app and workers first)")
    p.add_argument("dir")
    p.add_argument("--force", action="store_true", help="keep a non-empty workspace aside and restore anyway")
    p.add_argument("--user")
    p.set_defaults(no_workspace=True)
