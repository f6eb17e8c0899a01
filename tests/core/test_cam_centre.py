"""The quick model's last-stage tuning (core.ml.cam_centre): only the upper stage changes, the probabilities it
returns are the tuned model's own (what the run stores is what prediction gives), and architectures without a
stage split are left as probes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from core.ml import cam_centre, models, transforms


def photos(tmp_path, n: int = 12) -> tuple[list, np.ndarray]:
    rng = np.random.default_rng(0)
    paths, labels = [], []
    for i in range(n):
        label = i % 2
        array = rng.integers(0, 60, (64, 64, 3), dtype=np.uint8)
        if label:
            array[20:44, 20:44] = 220  # a bright "bolt" in the middle
        path = tmp_path / f"p{i}.png"
        Image.fromarray(array).save(path)
        paths.append(path)
        labels.append(label)
    return paths, np.array(labels)


def test_an_architecture_without_a_stage_split_stays_a_probe(tmp_path):
    spec = models.build("tiny_cnn", 2, pretrained=False, image_size=32)
    before = {k: v.clone() for k, v in spec.model.state_dict().items()}
    paths, y = photos(tmp_path, 4)
    assert cam_centre.tune(spec, paths, y, np.ones(4, dtype=bool)) is None
    assert all(torch.equal(before[k], v) for k, v in spec.model.state_dict().items())


@pytest.mark.slow
def test_tuning_changes_the_upper_stage_only_and_returns_the_models_own_probabilities(tmp_path):
    torch.manual_seed(0)
    spec = models.build("efficientnet_lite0", 2, pretrained=False, image_size=64, pooling="avgmax")
    spec.model.eval()
    before = {k: v.clone() for k, v in spec.model.state_dict().items()}
    paths, y = photos(tmp_path)
    fit = np.arange(len(y)) < 8
    probs = cam_centre.tune(spec, paths, y, fit, seed=0)
    after = spec.model.state_dict()
    changed = {
        k.split(".")[0] + ("." + k.split(".")[1] if k.startswith("_blocks") else "")
        for k in after
        if not torch.equal(before[k], after[k])
    }
    assert changed and all(k in {"_fc", "_conv_head", "_bn1"} or int(k.split(".")[1]) >= 11 for k in changed), changed
    assert probs.shape == (len(y), 2) and np.allclose(probs.sum(axis=1), 1.0)
    from core.ml import data

    batch = torch.stack([transforms.eval_transform(spec.preprocess)(im) for im in data.decode_all(paths, 64)])
    with torch.inference_mode():
        own = torch.softmax(spec.model(batch), dim=1).numpy()
    np.testing.assert_allclose(probs, own, atol=1e-5)
    assert not any(p.requires_grad is False for p in spec.model.parameters())  # flags as they were
