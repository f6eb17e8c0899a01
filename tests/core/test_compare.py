"""Issue 17 point 4: two runs compared photo by photo (core.compare, `compare RUN_A RUN_B`), and the promotion
that records the comparison. Runs are crafted with known stored probabilities, so an independent reading of the
predictions table is the oracle."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import audit, auth, cli, compare, evaluation, jobs, metrics, runs, store
from core.errors import NotFoundError, PermissionDenied, ValidationError
from tests.core.train_helpers import ADMIN, TRAINER, add_demo, new_run, tiny_config


def flip_run(ws, seed: int, threshold: float | None) -> runs.Run:
    """A finished run whose test (and validation) photos get seeded random probabilities; threshold: its stored
    operating point on P(normal) (None: none stored, evaluation chooses one on validation)."""
    run = new_run(ws, tiny_config(seed=seed))
    names = list(run.class_names)
    rng = np.random.default_rng(seed)
    rows = []
    for item in runs.snapshot(ws.conn, run.id):
        if item.split == "train":
            continue
        probs = rng.dirichlet(np.ones(len(names)))
        if item.split == "val":  # a usable model on validation: its label likeliest
            probs = (probs + 2 * np.eye(len(names))[names.index(item.label)]) / 3
        rows.append((item.image_id, item.split, names[int(np.argmax(probs))], probs.tolist()))
    results = {s: {"accuracy": 0.5, "macro_f1": 0.5} for s in ("val", "test")}
    runs.finish_run(ws.conn, run.id, 1, results, None, rows)
    assert jobs.claim(ws.conn, run.job_id) is not None  # its job is done too: no worker picks it up
    jobs.finish(ws.conn, run.job_id, "done")
    if threshold is not None:
        point = metrics.OperatingPoint(threshold, 0.9, None, 1.0, 0.0)
        runs.set_operating_point(ws.conn, ADMIN, run.id, point.to_json())
    return runs.get_run(ws.conn, run.id)


def flip_workspace(ws) -> tuple[runs.Run, runs.Run]:
    """30 train and 24 locked test demo photos, and two crafted runs: A (threshold 0.2) and B (none stored)."""
    add_demo(ws, 30, split="train")
    add_demo(ws, 24, split="test", start=30)
    return flip_run(ws, 1, 0.2), flip_run(ws, 2, None)


def oracle(ws, run: runs.Run) -> dict[int, str]:
    """Each test photo's decision, read from the predictions table itself: normal when P(normal) reaches the
    threshold the run decides with, else the likeliest other class."""
    point = evaluation.operating_point(ws.conn, run)
    normal = run.class_names.index("normal")
    out = {}
    for row in ws.conn.execute(
        "SELECT image_id, probs FROM predictions WHERE run_id = ? AND split = 'test'", (run.id,)
    ):
        probs = json.loads(row["probs"])
        if probs[normal] >= point.threshold:
            out[row["image_id"]] = "normal"
        else:
            out[row["image_id"]] = max((p, c) for c, p in zip(run.class_names, probs, strict=True) if c != "normal")[1]
    return out


def test_compare_agrees_with_the_stored_predictions_photo_by_photo(ws):
    a, b = flip_workspace(ws)
    test_ids = sorted(oracle(ws, a))
    relabelled, trashed = test_ids[0], test_ids[1]
    now = "missing" if store.get_image(ws.conn, relabelled).label != "missing" else "broken"
    store.relabel(ws.conn, ADMIN, [relabelled], now, "manual")  # judged against the current label
    store.set_trashed(ws.conn, ADMIN, [trashed], True)  # no longer a photo of the dataset: left out

    found = compare.compare_photos(ws.conn, a.id, b.id)
    old, new = oracle(ws, a), oracle(ws, b)
    label = {i: store.get_image(ws.conn, i).label for i in test_ids}
    kept = [i for i in test_ids if i != trashed]
    fixed = [i for i in kept if new[i] == label[i] != old[i]]
    broken = [i for i in kept if old[i] == label[i] != new[i]]
    assert [f.image_id for f in found.fixed] == fixed and [f.image_id for f in found.broken] == broken
    assert found.same == len(kept) - len(fixed) - len(broken)
    assert found.both_wrong == sum(old[i] != label[i] and new[i] != label[i] for i in kept)
    assert fixed and broken and found.same, "the crafted runs must flip photos both ways"
    assert found.left_out == {"trashed": [trashed]}
    assert (found.a.threshold, found.b.threshold) == (0.2, evaluation.operating_point(ws.conn, b).threshold)

    stored = {(r["image_id"], run.id): r["probs"] for run in (a, b) for r in runs.predictions(ws.conn, run.id, "test")}
    for flip in found.fixed + found.broken:
        image = store.get_image(ws.conn, flip.image_id)
        assert (flip.sha256, flip.label) == (image.sha256, image.label)
        assert (flip.a.decided, flip.b.decided) == (old[flip.image_id], new[flip.image_id])
        for verdict, run in ((flip.a, a), (flip.b, b)):
            assert verdict.probs == stored[(flip.image_id, run.id)]
            assert verdict.p_defect == pytest.approx(1 - verdict.probs[run.class_names.index("normal")], abs=1e-6)


def test_the_operating_point_decides_not_the_argmax(ws):
    """A's threshold 0.2 calls photos normal whose likeliest class is a defect: the comparison follows it."""
    a, _ = flip_workspace(ws)
    argmax = {r["image_id"]: r["predicted"] for r in runs.predictions(ws.conn, a.id, "test")}
    decided = oracle(ws, a)
    assert any(argmax[i] != decided[i] for i in decided), "the crafted threshold must change some decisions"
    twin = flip_run(ws, 1, None)  # the same probabilities, its operating point chosen on validation
    found = compare.compare_photos(ws.conn, a.id, twin.id)
    moved = [i for i in decided if decided[i] != oracle(ws, twin)[i]]
    assert {f.image_id for f in found.fixed + found.broken} <= set(moved)


def test_photos_only_one_run_predicted_are_left_out_and_named(ws):
    a, _ = flip_workspace(ws)
    add_demo(ws, 3, split="test", start=54)
    later = flip_run(ws, 3, 0.5)  # tested on three more photos
    found = compare.compare_photos(ws.conn, a.id, later.id)
    assert len(found.left_out["only_b"]) == 3 and set(found.left_out) == {"only_b"}
    assert found.same + len(found.fixed) + len(found.broken) == 24
    back = compare.compare_photos(ws.conn, later.id, a.id)
    assert back.left_out == {"only_a": found.left_out["only_b"]}
    assert [f.image_id for f in back.fixed] == [f.image_id for f in found.broken]


def test_bad_pairs_are_refused_with_a_key(ws):
    a, b = flip_workspace(ws)
    with pytest.raises(ValidationError) as same:
        compare.compare_photos(ws.conn, a.id, a.id)
    assert same.value.key == "compare.same_run"
    with pytest.raises(NotFoundError):
        compare.compare_photos(ws.conn, a.id, 999)
    queued = new_run(ws, tiny_config())
    with pytest.raises(ValidationError) as unfinished:
        compare.compare_photos(ws.conn, queued.id, b.id)
    assert unfinished.value.key == "evaluate.unfinished"
    missing = [im.id for im in store.all_images(ws.conn) if im.label == "missing"]
    store.relabel(ws.conn, ADMIN, missing, "broken", "manual")  # a run of two classes
    two = flip_run(ws, 4, 0.5)
    with pytest.raises(ValidationError) as classes:
        compare.compare_photos(ws.conn, two.id, b.id)
    assert classes.value.key == "compare.classes" and "different classes" in str(classes.value)


def cli_run(ws, capsys, *args: str) -> tuple[int, str, str]:
    """The CLI in this process (its parser, error mapping and print_json), on the test's workspace."""
    rc = cli.main(["--workspace", str(ws.settings.workspace), *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_the_cli_prints_the_comparison_as_json_and_refuses_bad_input(ws, capsys):
    a, b = flip_workspace(ws)
    rc, out, _ = cli_run(ws, capsys, "compare", str(a.id), str(b.id), "--json")
    assert rc == 0 and len(out.strip().splitlines()) == 1
    answer = json.loads(out)
    assert answer == json.loads(json.dumps(compare.compare_photos(ws.conn, a.id, b.id).to_json()))
    assert {"fixed", "broken", "same"} <= set(answer) and isinstance(answer["same"], int)
    flip = (answer["fixed"] + answer["broken"])[0]
    assert set(flip) == {"image_id", "sha256", "label", "a", "b"}
    assert set(flip["a"]) == {"decided", "right", "p_defect", "probs"}
    assert (answer["a"]["run_id"], answer["b"]["run_id"], answer["split"]) == (a.id, b.id, "test")
    queued = new_run(ws, tiny_config())
    for bad, said in (
        ((a.id, a.id), "given twice"),
        ((a.id, 999), "does not exist"),
        ((queued.id, a.id), "has not finished"),
    ):
        rc, out, err = cli_run(ws, capsys, "compare", *map(str, bad), "--json")
        assert (rc, out) == (2, "") and said in err and "Traceback" not in err, err
    rc, out, _ = cli_run(ws, capsys, "compare", str(a.id), str(b.id))
    assert rc == 0 and f"run {b.id} against run {a.id}" in out


def test_a_promotion_over_production_records_the_comparison(ws):
    a, b = flip_workspace(ws)
    first = evaluation.promote(ws.conn, TRAINER, a.id)
    assert "comparison" not in first and runs.promotions(ws.conn)[0]["comparison"] is None
    with pytest.raises(PermissionDenied):  # comparing is reading; promoting stays the trainer's
        evaluation.promote(ws.conn, auth.Actor("vic", "viewer"), b.id, force=True)
    done = evaluation.promote(ws.conn, TRAINER, b.id, force=True)
    expected = compare.compare_photos(ws.conn, a.id, b.id)
    summary = {
        "against": a.id,
        "fixed": [f.image_id for f in expected.fixed],
        "broken": [f.image_id for f in expected.broken],
        "same": expected.same,
        "left_out": 0,
    }
    assert done["comparison"] == summary
    latest = runs.promotions(ws.conn)[0]
    assert (latest["run_id"], latest["previous_run_id"], latest["comparison"]) == (b.id, a.id, summary)
    logged = audit.query(ws.conn, actions=("promote",))[0]
    assert (logged.details["fixed"], logged.details["broken"], logged.details["same"]) == (
        len(expected.fixed),
        len(expected.broken),
        expected.same,
    )


def test_a_promotion_over_a_model_of_other_classes_records_no_comparison(ws):
    a, _ = flip_workspace(ws)
    evaluation.promote(ws.conn, TRAINER, a.id)
    missing = [im.id for im in store.all_images(ws.conn) if im.label == "missing"]
    store.relabel(ws.conn, ADMIN, missing, "broken", "manual")
    two = flip_run(ws, 4, 0.5)
    done = evaluation.promote(ws.conn, TRAINER, two.id, force=True)
    assert done["comparison"] is None and runs.promotions(ws.conn)[0]["comparison"] is None


def test_the_flips_add_up_to_evaluations_own_figures(ws):
    """Labels unchanged since the runs: each run's right photos are the diagonal of its confusion matrix at the
    operating point (evaluation.summarize_run), so fixed - broken is the candidate's gain in right photos."""
    a, b = flip_workspace(ws)
    found = compare.compare_photos(ws.conn, a.id, b.id)
    right = {}
    for run in (a, b):
        matrix = np.array(evaluation.summarize_run(ws.conn, run.id)["operating_point"]["confusion_matrix"])
        right[run.id] = int(np.trace(matrix))
        assert matrix.sum() == 24
    assert len(found.fixed) - len(found.broken) == right[b.id] - right[a.id]
    assert len(found.fixed) + len(found.broken) + found.same == 24 and found.left_out == {}
    assert found.same - found.both_wrong == right[a.id] - len(found.broken)  # both right


def test_promotions_recorded_before_the_comparison_column_read_as_none(ws_path, monkeypatch):
    """The migration adds promotions.comparison to a workspace that already has promotions: they keep their
    rows and read with no comparison; the next promotion records one."""
    from core import db, migrations
    from core.workspace import open_workspace

    index = next(i for i, m in enumerate(migrations.MIGRATIONS) if isinstance(m, str) and "ADD COLUMN comparison" in m)
    monkeypatch.setattr(db, "_MIGRATIONS", migrations.MIGRATIONS[:index])
    old = open_workspace(ws_path)
    add_demo(old, 6)
    run = new_run(old, tiny_config())
    old.conn.execute(
        "INSERT INTO promotions (run_id, previous_run_id, user, at, forced, reason) VALUES (?, ?, ?, ?, ?, ?)",
        (run.id, None, "tim", "", 0, "x"),
    )
    old.conn.commit()
    old.close()
    monkeypatch.setattr(db, "_MIGRATIONS", migrations.MIGRATIONS)
    new = open_workspace(ws_path)
    try:
        assert db.schema_version(new.conn) == len(migrations.MIGRATIONS)
        [kept] = runs.promotions(new.conn)
        assert (kept["run_id"], kept["reason"], kept["comparison"]) == (run.id, "x", None)
    finally:
        new.close()
