"""Evaluation and diagnosis commands of `python -m core`: evaluate, suspects, promote, predict."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

from core import auth, cli, evaluation, intervals, runs, store
from core.errors import RejectedFile, ValidationError
from core.files import write_atomic
from core.workspace import Workspace

CONTRACT = ("labels", "confusion_matrix", "accuracy", "macro_f1", "micro_f1", "weighted_f1", "per_class")


def _intervals(ws: Workspace, run_id: int) -> dict[str, object]:
    """Defect recall and false-alarm rate at the operating point on validation and test with their 95% intervals,
    as the model card writes them (core.intervals)."""
    run = runs.get_run(ws.conn, run_id)
    recall, false_alarm = intervals.card_rates(
        intervals.point_rates(ws.conn, run, evaluation.operating_point(ws.conn, run))
    )
    return {"defect_recall": recall, "false_alarm_rate": false_alarm}


def cmd_evaluate(ws: Workspace, args: argparse.Namespace) -> int:
    result = evaluation.summarize_run(ws.conn, args.run, args.split)
    point = result["operating_point"]
    out = {key: result[key] for key in CONTRACT}
    out["top2_accuracy"] = result["top2_accuracy"]
    out["n"] = result["n"]
    out["absent"] = result["absent"]  # classes with no photo in the split; the F1 averages cover "averaged"
    out["averaged"] = result["averaged"]
    out["operating_point"] = (
        {k: point[k] for k in ("threshold", "defect_recall", "false_alarm_rate")} if point else None
    )
    out["intervals"] = _intervals(ws, args.run) if point else None
    out["heatmap_check"] = _heatmap_check(ws, args.run)
    if args.json:
        cli.print_json(out)
    else:
        absent = (
            f" (no photos of {', '.join(out['absent'])}: averaged over {', '.join(out['averaged'])})"
            if out["absent"] and out["n"]
            else ""
        )
        print(
            f"run {args.run}, {args.split} split, {out['n']} photos: accuracy {out['accuracy']:.4f}, "
            f"macro-F1 {out['macro_f1']:.4f}{absent}"
        )
        check = out["heatmap_check"]
        print(f"heatmaps: {check['centre_share']:.3f} of their mass on the central box, ROAD {check['road']:.3f}")
    return 0


def _heatmap_check(ws: Workspace, run_id: int) -> dict[str, float | int]:
    """The run's kept heatmap check, measured now (and kept) when the run has none yet."""
    from core.ml import heatmap_check  # the torch tier, only for this command

    return heatmap_check.ensure(ws, run_id).to_json()


def cmd_suspects(ws: Workspace, args: argparse.Namespace) -> int:
    from core.ml import embed  # the torch tier, only for this command

    if args.top is not None and args.top < 1:
        raise ValidationError(f"--top {args.top}: give at least 1")
    found = embed.find_suspects(ws)
    if args.save:
        from core import review

        review.save_suspects(ws.conn, found, None)
    found = found[: args.top] if args.top else found
    if args.json:
        cli.print_json([{k: s[k] for k in ("image", "given", "predicted", "score")} for s in found])
    else:
        for s in found:
            print(f"#{s['image']}: labelled {s['given']}, looks {s['predicted']} (score {s['score']:.3f})")
    return 0


def cmd_promote(ws: Workspace, args: argparse.Namespace) -> int:
    cli.print_json(evaluation.promote(ws.conn, auth.local_actor(args.user), args.run, force=args.force))
    return 0


def _cam_name(path: Path, index: int) -> str:
    """A safe output name from the input's stem (no directories, no odd characters)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", path.stem).strip("._")[:80] or "photo"
    return f"{index:04d}-{stem}.cam.png"


def cmd_predict(ws: Workspace, args: argparse.Namespace) -> int:
    from core.ml import diagnosis, predict  # the torch tier, only for this command

    predictor = predict.load_predictor(ws, args.run)
    out_dir = Path(args.out).expanduser() if args.out else None
    if args.cam and out_dir is None:
        raise ValidationError("--cam needs --out DIR for the heatmap images")
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    for index, name in enumerate(args.images):
        path = Path(name)
        cam = diagnosis.CamSettings(args.cam) if args.cam else None
        try:  # prediction and Grad-CAM from one forward pass, exactly as on the Diagnose page
            found = diagnosis.diagnose(ws, predictor, path.name, path.read_bytes(), cam=cam)
        except (OSError, RejectedFile) as exc:
            failed += 1
            cli.print_json({"file": name, "error": str(exc)})
            continue
        result, cam_png = found.result, None
        if found.cam is not None:
            cam_path = out_dir / _cam_name(path, index)
            write_atomic(cam_path, found.overlay_png())
            cam_png = str(cam_path)
        cli.print_json(
            {
                "file": name,
                "label": result.label,
                "probs": result.probs,
                "defect": result.defect,
                "verdict": found.verdict,
                "familiarity": result.familiarity.to_json() if result.familiarity else None,
                "cam_png": cam_png,
                "ms": round(result.ms, 2),
            }
        )
    return 1 if failed == len(args.images) else 0


def add_commands(add: Callable[[str, Callable, str], argparse.ArgumentParser]) -> None:
    p = add("evaluate", cmd_evaluate, "figures of a finished run on its test split (stored predictions)")
    p.add_argument("run", type=int)
    p.add_argument("--split", default="test", choices=store.SPLITS)
    p.add_argument("--json", action="store_true")
    p = add("suspects", cmd_suspects, "photos whose label looks wrong, most suspect first")
    p.add_argument("--top", type=int)
    p.add_argument("--json", action="store_true")
    p.add_argument("--save", action="store_true", help="also store the scores for the Review page's queue")
    p = add("predict", cmd_predict, "diagnose photos with the production model (or --run), one JSON line each")
    p.add_argument("images", nargs="+")
    p.add_argument("--run", type=int)
    p.add_argument(
        "--cam",
        help="also save a Grad-CAM overlay: gradcam, gradcam++, hirescam, scorecam, eigencam, layercam, xgradcam",
    )
    p.add_argument("--out", help="folder for the overlays")
    p.add_argument("--json", action="store_true", help="JSON lines (the only output format)")
    p = add("promote", cmd_promote, "make a run the production model (refuses a worse one without --force)")
    p.add_argument("run", type=int)
    p.add_argument("--force", action="store_true")
    p.add_argument("--user")
