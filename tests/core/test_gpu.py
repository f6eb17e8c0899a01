"""On a CUDA machine (`pytest -m gpu`): AMP + channels_last training on the GPU. Skipped elsewhere."""

from __future__ import annotations

import pytest
import torch

from core import jobs, runs
from tests.core.train_helpers import ADMIN, add_demo, run_job_here, tiny_config

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]


def test_training_on_cuda_uses_the_gpu_and_finishes(ws):
    add_demo(ws, 30)
    job_id = jobs.submit(ws.conn, ADMIN, tiny_config(epochs=2, arch="efficientnet_lite0", image_size=96))
    assert run_job_here(ws, job_id) == "done"
    run = runs.run_for_job(ws.conn, job_id)
    assert run.device.startswith("cuda")
    assert [e.epoch for e in runs.epochs(ws.conn, run.id)] == [1, 2]


def test_batches_are_augmented_on_the_gpu_and_match_the_cpu():
    from core.ml import data, transforms
    from core.ml.models import IMAGENET_MEAN, IMAGENET_STD, Preprocess

    pre = Preprocess(64, IMAGENET_MEAN, IMAGENET_STD)
    images = torch.randint(0, 256, (8, 3, 64, 64), dtype=torch.uint8)
    on_gpu = data.CachedImages(images.cuda(), list(range(8)))
    batch, targets = next(iter(data.loader(on_gpu, 8)))
    assert batch.is_cuda and torch.equal(batch.cpu(), images[targets])
    got = transforms.BatchPrep("flip", pre, train=False)(batch)
    assert got.is_cuda
    assert torch.allclose(got.cpu(), transforms.BatchPrep("flip", pre, train=False)(images[targets]), atol=1e-6)
