"""Our one-pass Grad-CAM family (one forward, one backward to the CAM layer, one reused hook) against
pytorch-grad-cam's own classes, on real backbones with in-place activations after the CAM layer."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from core import demo
from core.ml import explain, models, predict

CLASSES = ("normal", "broken", "missing")


def predictor_for(arch: str, size: int = 96) -> predict.Predictor:
    torch.manual_seed(0)
    spec = models.build(arch, len(CLASSES), pretrained=arch == "efficientnet_lite0", image_size=size)
    spec.model.eval().requires_grad_(False)
    return predict.Predictor(None, spec, CLASSES, None, torch.device("cpu"))  # type: ignore[arg-type]


def library_mask(predictor: predict.Predictor, photo, method: str, target: int) -> np.ndarray:
    model = predictor.spec.model
    model.requires_grad_(True)  # pytorch-grad-cam backpropagates through the whole network
    try:
        batch = predict.prepare(predictor, [photo])
        with explain.METHODS[method](model=model, target_layers=predictor.spec.cam_target_layers) as cam:
            return cam(input_tensor=batch, targets=[ClassifierOutputTarget(target)])[0]
    finally:
        model.requires_grad_(False)


@pytest.mark.parametrize(
    "arch",
    [
        "tiny_cnn",
        "resnet18",
        pytest.param("efficientnet_lite0", marks=pytest.mark.slow),
        pytest.param("mobilenet_v3_large", marks=pytest.mark.slow),
    ],
)
def test_fast_methods_equal_pytorch_grad_cam(arch):
    predictor = predictor_for(arch)
    photos = [demo.render_crop(seed, label).image for seed, label in ((3, "broken"), (4, "missing"))]
    for photo in photos:
        for method in explain.FAST:
            for target in (0, 2):
                ours, chosen, probs = explain.compute(predictor, photo, method, target)
                theirs = library_mask(predictor, photo, method, target)
                assert chosen == target and ours.shape == theirs.shape
                np.testing.assert_allclose(ours, theirs, atol=2e-3, err_msg=f"{arch} {method} target {target}")
                assert probs is not None and abs(probs.sum() - 1) < 1e-5


def test_the_cam_forward_gives_the_probabilities_predict_gives_and_leaves_predict_alone():
    predictor = predictor_for("efficientnet_lite0")
    photo = demo.render_crop(11, "normal").image
    before = predict.predict(predictor, [photo])[0].probs
    mask, target, probs = explain.compute(predictor, photo, "gradcam")
    after = predict.predict(predictor, [photo])[0].probs
    np.testing.assert_allclose(probs, list(before.values()), atol=1e-5)
    assert before == after and target == int(np.argmax(probs))
    assert not any(p.requires_grad for p in predictor.spec.model.parameters())
    assert mask.max() == pytest.approx(1.0, abs=1e-3) and mask.min() >= 0


def test_concurrent_sessions_sharing_one_model_get_their_own_masks():
    predictor = predictor_for("resnet18")
    photos = [demo.render_crop(seed, label).image for seed, label in ((21, "broken"), (22, "missing"), (23, "normal"))]
    expected = [explain.compute(predictor, p, "gradcam", 1)[0] for p in photos]
    results: dict[int, list[np.ndarray]] = {i: [] for i in range(len(photos))}
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            for _ in range(5):
                results[i].append(explain.compute(predictor, photos[i], "gradcam", 1)[0])
                predict.predict(predictor, photos)  # plain inference interleaved must not disturb the hook
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(photos))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for i, masks in results.items():
        for mask in masks:
            np.testing.assert_allclose(mask, expected[i], atol=1e-5)
