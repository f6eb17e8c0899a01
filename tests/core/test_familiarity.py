"""core.ml.familiarity: the distance to the nearest training photo, its percentile among the validation photos',
the index a finished run keeps, and the familiarity every prediction carries from the forward it already ran."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from core import runs
from core.ml import familiarity, predict
from core.workspace import open_workspace
from tests.conftest import make_image
from tests.core.train_helpers import promoted_tiny_run


def _index(rng: np.random.Generator, n: int = 200, dim: int = 16) -> familiarity.Index:
    """Training features around one direction; validation distances measured the way build() measures them."""
    centre = np.ones(dim)
    train = familiarity._normalised(centre + 0.2 * rng.normal(size=(n, dim)))
    empty = familiarity.Index(train, np.zeros(0, dtype=np.float32))
    val = np.sort(empty.distances(centre + 0.2 * rng.normal(size=(60, dim))))
    return familiarity.Index(train, val)


def test_the_distance_is_to_the_nearest_training_photo_in_angle():
    train = familiarity._normalised(np.array([[1.0, 0.0], [0.0, 1.0]]))
    index = familiarity.Index(train, np.zeros(0, dtype=np.float32))
    got = index.distances(np.array([[3.0, 0.0], [1.0, 1.0], [-1.0, 0.0]]))
    # the same direction as a training photo (any length), halfway between two, opposite
    assert np.allclose(got, [0.0, 1 - np.sqrt(0.5), 1.0], atol=1e-6)


def test_a_photo_like_the_validation_photos_is_familiar_and_a_far_one_is_not():
    rng = np.random.default_rng(0)
    index = _index(rng)
    near = index.judge(np.ones((1, 16)) + 0.2 * rng.normal(size=(1, 16)))[0]
    far = index.judge(-np.ones((1, 16)))[0]
    assert 1 < near.percentile < 99 and not near.unfamiliar
    assert far.percentile > 99.9 and far.unfamiliar
    assert far.to_json() == {"percentile": round(far.percentile, 2), "unfamiliar": True}


def test_the_percentile_rises_with_the_distance_and_the_cut_decides():
    index = _index(np.random.default_rng(1))
    distances = np.linspace(0.0, 0.5, 50)
    shares = [index.percentile(float(d)) for d in distances]
    assert all(a <= b for a, b in zip(shares, shares[1:], strict=False)) and shares[0] < 1 and shares[-1] > 99
    middle = float(np.median(index.val))
    assert 40 < index.percentile(middle) < 60  # the fitted percentile of the median validation distance
    row = familiarity._normalised(np.ones((1, 16)) + np.eye(16)[:1] * 0.6)
    found = index.judge(row, cut=50.0)[0]
    assert found.unfamiliar == (found.percentile > 50.0)


def test_the_percentile_is_the_share_of_validation_photos_and_too_few_make_no_gate():
    index = familiarity.Index(familiarity._normalised(np.eye(3)), np.array([0.125, 0.125], dtype=np.float32))
    assert index.percentile(0.0625) == 0.0 and index.percentile(0.125) == 100.0
    (far,) = index.judge(-np.ones((1, 3)))  # past both validation photos, but two photos make no 99th percentile
    assert far.percentile == 100.0 and not far.unfamiliar


def test_the_features_of_a_forward_stay_with_its_thread():
    """A server judges in many threads: each thread reads its own forward's features, never another's."""
    spec = type("Spec", (), {})()
    spec.head, spec.pooling = torch.nn.Linear(4, 2), "avg"
    spec.model = torch.nn.Sequential(torch.nn.Identity(), spec.head)
    familiarity.attach(spec)
    seen: dict[str, np.ndarray | None] = {}

    def judge(name: str, value: float) -> None:
        spec.model(torch.full((1, 4), value))
        seen[name] = familiarity.taken()

    other = threading.Thread(target=judge, args=("other", 2.0))
    spec.model(torch.full((1, 4), 1.0))
    other.start()
    other.join()
    assert np.all(familiarity.taken() == 1.0) and np.all(seen["other"] == 2.0)
    assert familiarity.taken() is None  # taken once


@pytest.mark.slow  # trains a tiny model
def test_a_finished_run_keeps_its_index_and_every_prediction_carries_familiarity(tmp_path):
    ws = open_workspace(tmp_path / "ws")
    try:
        run = promoted_tiny_run(ws)
        path = ws.layout.run_dir(run.id) / familiarity.FILE
        assert path.is_file(), "the training job built the index"
        items = runs.snapshot(ws.conn, run.id)
        kept = familiarity.load_index(path)
        assert kept is not None and len(kept.val) == sum(it.split == "val" or it.held_out for it in items)
        predictor = predict.load_predictor(ws, run.id)
        (found,) = predict.predict(predictor, [make_image(3, size=(96, 96))])
        assert found.familiarity is not None and 0 <= found.familiarity.percentile <= 100
        train_photo = next(it for it in items if it.split == "train" and not it.held_out)
        (seen,) = predict.predict(predictor, [ws.layout.cached(train_photo.sha256)])
        assert seen.familiarity is not None and seen.familiarity.distance < 1e-3  # a training photo: itself
        assert not seen.unfamiliar
        path.write_bytes(b"not an index")  # damaged: built again at the next load, never a crash
        assert predict.load_predictor(ws, run.id).index is not None and familiarity.load_index(path) is not None
    finally:
        ws.close()


def test_the_cut_is_an_admins_setting_audited_and_checked(tmp_path, capsys):
    from core import audit, auth, cli, familiarity_cut
    from core.errors import PermissionDenied, ValidationError

    ws = open_workspace(tmp_path / "ws")
    try:
        assert familiarity_cut.cut_percentile(ws.conn) == 99.0
        with pytest.raises(PermissionDenied):
            familiarity_cut.set_cut_percentile(ws.conn, auth.Actor("tim", "trainer"), 97.5)
        for bad in (50.0, 100.0, True, "99"):
            with pytest.raises(ValidationError):
                familiarity_cut.set_cut_percentile(ws.conn, auth.Actor("alice", "admin"), bad)
        assert familiarity_cut.cut_percentile(ws.conn) == 99.0  # nothing changed
        familiarity_cut.set_cut_percentile(ws.conn, auth.Actor("alice", "admin"), 97.5)
        assert familiarity_cut.cut_percentile(ws.conn) == 97.5
        (entry,) = audit.query(ws.conn, actions=("settings",))
        assert (entry.user, entry.details["old"], entry.details["new"]) == ("alice", 99.0, 97.5)
    finally:
        ws.close()
    assert cli.main(["--workspace", str(tmp_path / "ws"), "familiarity-cut"]) == 0
    assert '"percentile": 97.5' in capsys.readouterr().out
    assert cli.main(["--workspace", str(tmp_path / "ws"), "familiarity-cut", "120"]) == 2
    assert "from 90 to 99.99" in capsys.readouterr().err
