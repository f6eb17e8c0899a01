"""`python -m core [--workspace DIR] COMMAND`: the command-line contract other tools rely on."""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from core import auth, dataset_export, errors, ingest, store
from core.errors import CoreError, NotFoundError, PermissionDenied, ValidationError
from core.workspace import Workspace, open_workspace, writable

log = logging.getLogger("boltscope")


def print_json(obj: object) -> None:
    """The one way a command prints its answer: one line of JSON, non-ASCII kept as is."""
    print(json.dumps(obj, ensure_ascii=False))


def cmd_import(ws: Workspace, args: argparse.Namespace) -> int:
    report = ingest.import_paths(ws, auth.local_actor(args.user), args.paths, label=args.label, split=args.split)
    print_json(report.to_json())
    return 0


def cmd_export(ws: Workspace, args: argparse.Namespace) -> int:
    """`export DIR`: the labelled photos as ImageFolder; `export RUN --format F --out PATH`: a model."""
    if args.format:
        from core.ml import export  # the torch tier, only for a model export

        if not args.out:
            raise ValidationError("--format needs --out PATH for the model file")
        if not args.dir.isdigit():
            raise ValidationError(f"{args.dir!r} is not a run id; `export RUN --format {args.format} --out PATH`")
        card = export.export_run(ws, auth.local_actor(args.user), int(args.dir), args.format, Path(args.out))
        print_json({"out": args.out, "card": args.out + ".card.json", "max_abs_diff": card["check"]["max_abs_diff"]})
        return 0
    counts = dataset_export.export_folder(ws, auth.local_actor(args.user), args.dir)
    print_json({"dir": args.dir, "exported": sum(counts.values()), "by_split": counts})
    return 0


def cmd_demo(ws: Workspace, args: argparse.Namespace) -> int:
    from core import demo

    if args.n < 1:
        raise ValidationError(f"--n {args.n}: give at least 1 photo")
    uploads = [
        (f"demo/{p.label}/demo_{args.seed}_{i:05d}.jpg", p.jpeg) for i, p in enumerate(demo.demo_set(args.n, args.seed))
    ]
    report = ingest.import_uploads(ws, auth.local_actor(args.user), uploads, image_source="demo", event_source="import")
    print_json(report.to_json())
    return 0


def cmd_relabel(ws: Workspace, args: argparse.Namespace) -> int:
    image = store.resolve_image(ws.conn, args.image)
    changed = store.relabel(ws.conn, auth.local_actor(args.user), [image.id], args.label, "manual")
    print_json({"image": image.id, "label": args.label, "changed": bool(changed)})
    return 0


def cmd_stats(ws: Workspace, _args: argparse.Namespace) -> int:
    print_json(store.stats(ws.conn))
    return 0


def cmd_history(ws: Workspace, args: argparse.Namespace) -> int:
    image = store.resolve_image(ws.conn, args.image)
    print_json([asdict(event) for event in store.history(ws.conn, image.id)])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="boltscope command line")
    parser.add_argument("--workspace", help="workspace folder (default: $BOLTSCOPE_WORKSPACE or ./workspace)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, func, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(func=func)
        return p

    p = add("import", cmd_import, "import photos, folders (class subfolders = labels) and zips")
    p.add_argument("paths", nargs="+")
    p.add_argument("--label", help="one label for every imported photo")
    p.add_argument("--split", choices=store.SPLITS, help="put every photo in this split (locked)")
    p.add_argument("--user", help="who is importing (default: $BOLTSCOPE_USER or the login name)")
    p = add(
        "export",
        cmd_export,
        "export labelled photos as split/label/file (ImageFolder), or with --format a "
        "run's model (ONNX / TorchScript + model card)",
    )
    p.add_argument("dir", help="folder for the photos, or the run id with --format")
    p.add_argument("--format", choices=("onnx", "torchscript"))
    p.add_argument("--out", help="model file to write (with --format)")
    p.add_argument("--user")
    p = add("demo", cmd_demo, "add synthetic bolt photos (normal / broken / missing)")
    p.add_argument("--n", type=int, default=330)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--user")
    p = add("relabel", cmd_relabel, "set the label of one photo (id or SHA-256 prefix)")
    p.add_argument("image")
    p.add_argument("label")
    p.add_argument("--user")
    add("stats", cmd_stats, "counts by label and split as JSON").set_defaults(read_only_ok=True)
    p = add("history", cmd_history, "label events of one photo as JSON")
    p.add_argument("image")
    # imported here, not at the top: each imports this module for print_json, and the graph stays acyclic
    from core.cli import admin, compare, evaluate, inspect, tokens, train

    train.add_commands(add)
    evaluate.add_commands(add)
    compare.add_commands(add)
    admin.add_commands(add)
    inspect.add_commands(add)
    tokens.add_commands(add)
    return parser


def _run(args: argparse.Namespace, ws: Workspace | None) -> int:
    try:
        return args.func(ws, args)
    except (ValidationError, NotFoundError, PermissionDenied) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except CoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as exc:  # met outside core's checked connection (a command's own connection)
        error = errors.corrupt_error(ws.layout.db_path, str(exc)) if ws is not None and errors.is_corrupt(exc) else exc
        log.debug("database error", exc_info=exc)
        print(f"error: {error}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if getattr(args, "no_workspace", False):  # restore: opening the target would create it
        return _run(args, None)
    read_only = getattr(args, "read_only_ok", False)  # a command that only reads: a read-only disk will do
    read_only = bool(read_only(args) if callable(read_only) else read_only) and not writable(args.workspace)
    try:
        ws = open_workspace(args.workspace, read_only=read_only)
    except CoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        return _run(args, ws)
    finally:
        ws.close()
