"""Inspection commands of `python -m core`: station (add, update, list, show), inspect, inspections, demo-wheels."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from core import auth, cli, i18n, inspection_csv, inspection_report, inspections, stations
from core.errors import ValidationError
from core.files import write_atomic
from core.workspace import Workspace

MAX_BOXES_BYTES = 1 << 20  # a positions file of 200 boxes is a few KB


def read_boxes(path: str) -> list[stations.Position]:
    """The positions of FILE.json, [{"name": "P1", "box": [x0, y0, x1, y1]}, …] in reference pixels."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BOXES_BYTES + 1)
    except OSError as exc:
        raise ValidationError(f"cannot read the positions file {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_BOXES_BYTES:
        raise ValidationError(f"the positions file {path} is over {MAX_BOXES_BYTES >> 10} KB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"the positions file {path} is not UTF-8 text") from exc
    return stations.parse_positions(text)


def cmd_station_add(ws: Workspace, args: argparse.Namespace) -> int:
    station = stations.add_station(
        ws,
        auth.local_actor(args.user),
        args.name,
        Path(args.reference),
        read_boxes(args.boxes),
        run_id=args.run,
        margin=args.margin,
    )
    cli.print_json(stations.station_json(station))
    return 0


def cmd_station_update(ws: Workspace, args: argparse.Namespace) -> int:
    changes: dict[str, object] = {}
    if args.reference:
        changes["reference"] = Path(args.reference)
    if args.boxes:
        changes["positions"] = read_boxes(args.boxes)
    if args.run is not None or args.production:
        changes["run_id"] = None if args.production else args.run
    if args.margin is not None:
        changes["margin"] = args.margin
    station = stations.update_station(ws, auth.local_actor(args.user), args.name, **changes)
    cli.print_json(stations.station_json(station))
    return 0


def cmd_station_list(ws: Workspace, _args: argparse.Namespace) -> int:
    cli.print_json([stations.station_json(s) for s in stations.list_stations(ws.conn)])
    return 0


def cmd_station_show(ws: Workspace, args: argparse.Namespace) -> int:
    if args.all:
        found = stations.list_versions(ws.conn, args.name) or [stations.get_station(ws.conn, args.name)]
        cli.print_json([stations.station_json(s) for s in found])
    else:
        cli.print_json(stations.station_json(stations.get_station(ws.conn, args.name, args.version)))
    return 0


def report_folder(path: str | None) -> Path | None:
    """--report DIR: made when missing; refused before any photo is inspected when it cannot take files."""
    if path is None:
        return None
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError(f"cannot make the report folder {path}: {exc.strerror or exc}") from exc
    if not os.access(folder, os.W_OK):
        raise ValidationError(f"the report folder {path} is not writable")
    return folder


def cmd_inspect(ws: Workspace, args: argparse.Namespace) -> int:
    """One JSON line per photo, printed as each is recorded; with --report DIR each photo's PDF report is
    written there first (inspection-<id>.pdf, its heatmaps kept with the record) and named in the line."""
    from core.ml import inspect as ml_inspect  # the torch tier, only for this command

    actor = auth.local_actor(args.user)
    folder = report_folder(args.report)
    for inspection_id, _result in ml_inspect.inspect_files(
        ws, actor, args.station, [Path(p) for p in args.photos], asset=args.asset, cams=folder is not None
    ):
        line = inspections.inspection_json(inspections.get_inspection(ws.conn, inspection_id))
        if folder is not None:
            target = folder / f"inspection-{inspection_id:08d}.pdf"
            write_atomic(target, inspection_report.inspection_pdf(ws, actor, inspection_id, args.lang))
            line["report"] = str(target)
        cli.print_json(line)
        sys.stdout.flush()
    return 0


def cmd_inspections(ws: Workspace, args: argparse.Namespace) -> int:
    found = inspections.list_inspections(ws.conn, args.asset, args.station, args.since, args.until)
    if args.csv:
        sys.stdout.write(inspection_csv.text(found))
    else:
        for inspection in found:
            cli.print_json(inspections.inspection_json(inspection))
    return 0


def _station_commands(station: argparse.ArgumentParser) -> None:
    sub = station.add_subparsers(dest="station_action", required=True)
    p = sub.add_parser("add", help="a new station: a reference photo and its positions")
    p.set_defaults(func=cmd_station_add)
    p.add_argument("name")
    p.add_argument("--reference", required=True, help="the reference photo")
    p.add_argument("--boxes", required=True, help='FILE.json: [{"name": "P1", "box": [x0, y0, x1, y1]}, …]')
    p.add_argument("--run", type=int, help="the run that decides (default: the production model at the time)")
    p.add_argument("--margin", type=float, default=0.0, help="crop margin per side, a fraction of the box (0-1)")
    p.add_argument("--user", help="who makes the change (default: $BOLTSCOPE_USER or the login name)")
    p = sub.add_parser("update", help="a new version of a station (earlier versions are kept)")
    p.set_defaults(func=cmd_station_update)
    p.add_argument("name")
    p.add_argument("--reference", help="a new reference photo")
    p.add_argument("--boxes", help="new positions FILE.json")
    model = p.add_mutually_exclusive_group()
    model.add_argument("--run", type=int, help="the run that decides")
    model.add_argument("--production", action="store_true", help="the production model decides")
    p.add_argument("--margin", type=float)
    p.add_argument("--user")
    p = sub.add_parser("list", help="every station's newest version as JSON")
    p.set_defaults(func=cmd_station_list, read_only_ok=True)
    p.add_argument("--json", action="store_true", help="JSON (the only format; accepted for scripts)")
    p = sub.add_parser("show", help="one station as JSON (its newest version unless --version)")
    p.set_defaults(func=cmd_station_show, read_only_ok=True)
    p.add_argument("name")
    p.add_argument("--version", type=int)
    p.add_argument("--all", action="store_true", help="every version, oldest first")
    p.add_argument("--json", action="store_true", help="JSON (the only format; accepted for scripts)")


def cmd_demo_wheels(ws: Workspace, args: argparse.Namespace) -> int:
    """Synthetic wheel photos to try the Inspect page: a reference (every bolt normal), the station made from it
    (once), and photos of other wheels of the design taken by hand, some with broken or missing bolts."""
    from core import demo_wheel

    out = Path(args.dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    reference = demo_wheel.render_wheel(args.seed, labels=(demo_wheel.demo.CLASSES[0],) * demo_wheel.BOLTS)
    (out / "reference.jpg").write_bytes(reference.jpeg)
    positions = [stations.Position(p.name, p.box) for p in reference.positions]
    made = None
    if not any(s.name == args.station for s in stations.list_stations(ws.conn)):
        made = stations.add_station(ws, auth.local_actor(args.user), args.station, reference.jpeg, positions).name
    photos = []
    for i in range(args.n):
        rng = demo_wheel.np.random.default_rng([args.seed, 100 + i])
        wheel = demo_wheel.render_wheel(
            args.seed + 1 + i,
            angle=float(rng.uniform(-15, 15)),
            shift=(float(rng.uniform(-60, 60)), float(rng.uniform(-60, 60))),
            scale=float(rng.uniform(0.93, 1.07)),
        )
        name = f"wheel-{i + 1}.jpg"
        (out / name).write_bytes(wheel.jpeg)
        photos.append({"photo": name, "labels": {p.name: p.label for p in wheel.positions}})
    cli.print_json({"dir": str(out), "station": args.station, "created": made is not None, "photos": photos})
    return 0


def add_commands(add: Callable[[str, Callable, str], argparse.ArgumentParser]) -> None:
    _station_commands(add("station", cmd_station_list, "stations: add, update, list, show"))
    p = add("inspect", cmd_inspect, "inspect whole photos at a station and record them (one JSON line each)")
    p.add_argument("photos", nargs="+")
    p.add_argument("--station", required=True)
    p.add_argument("--asset", default="", help="vehicle id, wheel: what the photos show")
    p.add_argument("--report", metavar="DIR", help="write each photo's PDF report there (made when missing)")
    p.add_argument("--lang", choices=sorted(i18n.LANGUAGES), default="en", help="the reports' language")
    p.add_argument("--json", action="store_true", help="JSON lines (the only format; accepted for scripts)")
    p.add_argument("--user", help="who inspects (default: $BOLTSCOPE_USER or the login name)")
    p = add("inspections", cmd_inspections, "the inspection history in time order, as JSON lines or --csv")
    p.add_argument("--asset")
    p.add_argument("--station")
    p.add_argument("--since", help="ISO date or time (UTC)")
    p.add_argument("--until", help="ISO date or time (UTC)")
    form = p.add_mutually_exclusive_group(required=True)
    form.add_argument("--json", action="store_true")
    form.add_argument("--csv", action="store_true")
    p.set_defaults(read_only_ok=True)
    p = add("demo-wheels", cmd_demo_wheels, "synthetic wheel photos and their station, to try inspections")
    p.add_argument("dir", help="where the photos go")
    p.add_argument("--n", type=int, default=3, choices=range(1, 21), metavar="N", help="photos to make (1-20)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--station", default="demo-wheel")
    p.add_argument("--user")
