"""`compare RUN_A RUN_B`: the candidate RUN_B against RUN_A (say production), photo by photo, from the stored
predictions on the test split."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from core import cli, compare
from core.workspace import Workspace


def cmd_compare(ws: Workspace, args: argparse.Namespace) -> int:
    found = compare.compare_photos(ws.conn, args.run_a, args.run_b)
    if args.json:
        cli.print_json(found.to_json())
        return 0
    print(
        f"run {args.run_b} against run {args.run_a} on {found.split} photos: fixed {len(found.fixed)}, "
        f"newly wrong {len(found.broken)}, same {found.same}"
    )
    for kind, flips in (("fixed", found.fixed), ("newly wrong", found.broken)):
        for flip in flips:
            print(f"  {kind}: #{flip.image_id} ({flip.label}): {flip.a.decided} -> {flip.b.decided}")
    for reason, ids in found.left_out.items():
        print(f"  left out ({reason}): {', '.join(f'#{i}' for i in ids)}")
    return 0


def add_commands(add: Callable[[str, Callable, str], argparse.ArgumentParser]) -> None:
    p = add(
        "compare",
        cmd_compare,
        "photos RUN_B fixes and newly gets wrong against RUN_A (say production), at each run's operating point",
    )
    p.add_argument("run_a", type=int, metavar="RUN_A")
    p.add_argument("run_b", type=int, metavar="RUN_B")
    p.add_argument("--json", action="store_true")
    p.set_defaults(read_only_ok=True)
