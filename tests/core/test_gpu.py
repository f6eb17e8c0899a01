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

