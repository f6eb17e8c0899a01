"""The training data path: whole batches gathered from the uint8 cache, augmented and normalised per batch."""

from __future__ import annotations

import pytest
import torch

from core.ml import data, transforms
from core.ml.models import IMAGENET_MEAN, IMAGENET_STD, Preprocess

PRE = Preprocess(32, IMAGENET_MEAN, IMAGENET_STD)


def photos(n: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, PRE.size, PRE.size), dtype=torch.uint8, generator=gen)


def test_eval_prep_equals_the_per_photo_eval_transform():
    batch = photos(5)
    per_photo = torch.stack([transforms.eval_transform(PRE)(p) for p in batch])
    assert torch.equal(transforms.BatchPrep("flip", PRE, train=False)(batch), per_photo)


def test_flip_prep_mirrors_each_photo_on_its_own():
    batch = photos(64)
    torch.manual_seed(3)
    out = transforms.BatchPrep("flip", PRE)(batch)
    norm = transforms.eval_transform(PRE)
    seen = []
    for src, got in zip(batch, out, strict=True):
        variants = [norm(src), norm(src.flip(-1)), norm(src.flip(-2)), norm(src.flip(-1).flip(-2))]
        matches = [i for i, v in enumerate(variants) if torch.equal(v, got)]
        assert len(matches) == 1, "every output is exactly one mirror of its own photo"
        seen.append(matches[0])
    assert set(seen) == {0, 1, 2, 3}, "all four mirrors occur within one batch"
    assert 6 <= seen.count(0) <= 26  # about a quarter untouched (p of falling outside < 1e-3)


def test_flips_follow_the_seed():
    batch = photos(16)
    prep = transforms.BatchPrep("flip", PRE)
    torch.manual_seed(7)
    first = prep(batch)
    torch.manual_seed(7)
    assert torch.equal(prep(batch), first)


@pytest.mark.parametrize("preset", ["photo", "strong"])
def test_heavier_presets_give_each_photo_its_own_parameters(preset):
    same = photos(1).repeat(8, 1, 1, 1)
    torch.manual_seed(0)
    out = transforms.BatchPrep(preset, PRE)(same)
    assert out.shape == (8, 3, PRE.size, PRE.size) and out.dtype == torch.float32
    distinct = {tuple(o.flatten()[:64].tolist()) for o in out}
    assert len(distinct) >= 6, "one photo eight times in a batch comes out (mostly) different each time"


def test_prep_refuses_what_is_not_a_uint8_batch():
    with pytest.raises(ValueError, match="uint8 batch"):
        transforms.BatchPrep("flip", PRE)(photos(2).float())
    with pytest.raises(ValueError, match="uint8 batch"):
        transforms.BatchPrep("flip", PRE)(photos(1)[0])


def test_loader_gathers_whole_batches_from_the_cache():
    images = photos(10)
    dataset = data.CachedImages(images, list(range(10)))
    batches = list(data.loader(dataset, 4, shuffle=True, generator=torch.Generator().manual_seed(1)))
    assert [len(t) for _, t in batches] == [4, 4, 2]
    order = torch.cat([t for _, t in batches])
    assert sorted(order.tolist()) == list(range(10)) and order.tolist() != list(range(10))
    for imgs, targets in batches:
        assert imgs.dtype == torch.uint8 and torch.equal(imgs, images[targets])


def test_cache_must_be_uint8_images_matching_the_targets():
    with pytest.raises(ValueError, match="targets"):
        data.CachedImages(photos(3), [0, 1])
    with pytest.raises(ValueError, match="uint8"):
        data.CachedImages(photos(3).float(), [0, 1, 2])
