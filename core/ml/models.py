"""Model registry: name → builder(num_classes, weights) → ModelSpec (model, CAM layers, preprocessing).

Each builder makes the backbone with a fresh head for our classes; pretrained backbone weights come
from the file core.weights found (offline), loaded with weights_only=True. A file that is missing or
does not fit means training from scratch, reported on the spec, never an exception.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NotRequired, TypedDict

import torch
from torch import nn

from core import weights as weights_lookup
from core import zoo

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LITE_MEAN = (0.498, 0.498, 0.498)  # EfficientNet-Lite was trained on (x - 127) / 128
LITE_STD = (0.502, 0.502, 0.502)


@dataclass(frozen=True)
class Preprocess:
    """What the model expects: square size and the normalisation its weights were trained with."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def to_dict(self) -> dict[str, object]:
        return {"size": self.size, "mean": list(self.mean), "std": list(self.std)}


class WeightsUse(TypedDict):
    """Whether the backbone's pretrained weights were loaded, from which file, or why not (the run keeps it)."""

    used: bool
    arch: str
    source: str | None
    path: str | None
    expected: list[str]  # where a missing file may be put
    reason: NotRequired[str]  # why not used


@dataclass
class ModelSpec:
    name: str
    model: nn.Module
    cam_target_layers: list[nn.Module]
    preprocess: Preprocess
    head_path: str  # dotted path of the final Linear layer (replaced for our classes)
    pool_path: str | None  # the global pool that feeds the head directly, when there is one
    pooling: str = "avg"
    weights: WeightsUse | dict[str, object] = field(default_factory=dict)  # empty until load_backbone ran
    fresh_paths: tuple[str, ...] = ()  # modules besides the head that no pretrained file holds (start fresh)

    @property
    def head(self) -> nn.Linear:
        return self.model.get_submodule(self.head_path)


class AvgMaxPool2d(nn.Module):
    """Average and maximum over space, side by side: a small defect in one spot survives the pooling."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(dim=(2, 3), keepdim=True), x.amax(dim=(2, 3), keepdim=True)], dim=1)


POOLINGS = ("avg", "avgmax")


@dataclass(frozen=True)
class Network:
    """What a registered builder returns for a number of classes: the model and where build() finds its parts."""

    model: nn.Module
    cam_layers: Callable[[nn.Module], list[nn.Module]]  # the layers Grad-CAM reads, picked from the model
    head_path: str  # the last linear layer, sized for our classes
    pool_path: str | None  # the global pool that feeds the head directly; None: no avgmax pooling
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    fresh_paths: tuple[str, ...] = ()  # modules besides the head that the pretrained file does not hold


Builder = Callable[[int], Network]
REGISTRY: dict[str, Builder] = {}


def register(name: str) -> Callable[[Builder], Builder]:
    """Add a builder; a second builder under one name is a bug, so it raises."""

    def decorate(builder: Builder) -> Builder:
        if name in REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        if name not in zoo.ARCHES:
            raise ValueError(f"model {name!r} has no entry in core.zoo")
        REGISTRY[name] = builder
        return builder

    return decorate


@register("efficientnet_lite0")
def _lite0(n: int) -> Network:
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0", num_classes=n)
    model.set_swish(memory_efficient=False)  # plain x*sigmoid(x): exportable and hook-friendly
    # Grad-CAM at the conv head's batch norm (its 1280 channels, before the pooling), not the last block: on the
    # screws test crops 0.725 of the mass in the central box and 91 % of photos over half (last block 0.663, 89 %)
    return Network(model, lambda m: [m._bn1], "_fc", "_avg_pooling", LITE_MEAN, LITE_STD)


class ShortLite0(nn.Module):
    """EfficientNet-Lite0's stem and first six blocks (to stride 16, 80 channels; ImageNet weights from the same
    file), then a fresh 1×1 conv head, pooling and classifier: a distillation student with a third of Lite0's
    convolutions. On a CPU at batch 1 a small Lite0 input costs about 6 ms whatever its size (every convolution
    has a fixed cost); fewer layers is what makes a student fast there."""

    def __init__(self, num_classes: int, blocks: int = 6, width: int = 640) -> None:
        from efficientnet_lite_pytorch import EfficientNet

        super().__init__()
        full = EfficientNet.from_name("efficientnet-lite0", num_classes=num_classes)
        full.set_swish(memory_efficient=False)
        self._conv_stem, self._bn0, self._swish = full._conv_stem, full._bn0, full._swish
        self._blocks = nn.ModuleList(full._blocks[:blocks])
        channels = full._blocks[blocks - 1]._block_args.output_filters
        self._head_conv = nn.Conv2d(channels, width, 1, bias=False)
        self._head_bn = nn.BatchNorm2d(width)
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(0.2)
        self._fc = nn.Linear(width, num_classes)
        for norm in self.modules():  # TF's 0.01 follows a few hundred fine-tuning steps too slowly: the running
            if isinstance(norm, nn.BatchNorm2d):  # statistics stayed ImageNet's and the eval model lost its way
                norm.momentum = 0.1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._swish(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = self._swish(self._head_bn(self._head_conv(x)))
        return self._fc(self._dropout(torch.flatten(self._avg_pooling(x), 1)))


@register("efficientnet_lite0_short")
def _lite0_short(n: int) -> Network:
    return Network(
        ShortLite0(n), lambda m: [m._head_bn], "_fc", "_avg_pooling", LITE_MEAN, LITE_STD, ("_head_conv", "_head_bn")
    )


def _torchvision(name: str, cam: Callable[[nn.Module], list[nn.Module]], head: str, pool: str | None) -> None:
    """Register a torchvision classifier, built without weights and with our number of classes."""

    def builder(n: int) -> Network:
        from torchvision.models import get_model

        return Network(get_model(name, weights=None, num_classes=n), cam, head, pool, IMAGENET_MEAN, IMAGENET_STD)

    register(name)(builder)


for _name, _cam, _head, _pool in (
    ("resnet18", lambda m: [m.layer4[-1]], "fc", "avgpool"),
    ("resnet50", lambda m: [m.layer4[-1]], "fc", "avgpool"),
    ("efficientnet_b0", lambda m: [m.features[-1]], "classifier.1", "avgpool"),
    ("mobilenet_v3_large", lambda m: [m.features[-1]], "classifier.3", None),  # a hidden layer sits before the head
    ("regnet_y_400mf", lambda m: [m.trunk_output[-1]], "fc", "avgpool"),
    ("convnext_tiny", lambda m: [m.features[-1]], "classifier.2", None),  # LayerNorm sits before the head
):
    _torchvision(_name, _cam, _head, _pool)


class TinyCNN(nn.Module):
    """Three conv blocks and a linear head: the registry's test model (trains in seconds on a CPU)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for width in (8, 16, 32):
            layers.append(
                nn.Sequential(
                    nn.Conv2d(channels, width, 3, stride=2, padding=1, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU(inplace=True),
                )
            )
            channels = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


@register("tiny_cnn")
def _tiny(n: int) -> Network:
    return Network(TinyCNN(n), lambda m: [m.features[-1]], "fc", "pool", IMAGENET_MEAN, IMAGENET_STD)


def build(
    name: str,
    num_classes: int,
    pretrained: bool = True,
    image_size: int | None = None,
    weights_dir: Path | None = None,
    pooling: str = "avg",
) -> ModelSpec:
    """The model with a fresh head for num_classes, pretrained backbone when a weights file is found.

    pooling="avgmax" (models whose pool feeds the head directly) doubles the head's input with a max pool.
    """
    arch = zoo.get_arch(name)
    if num_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
    net = REGISTRY[name](num_classes)
    spec = ModelSpec(
        name,
        net.model,
        net.cam_layers(net.model),
        Preprocess(image_size or arch.default_size, net.mean, net.std),
        net.head_path,
        net.pool_path,
        fresh_paths=net.fresh_paths,
    )
    if pooling != "avg":
        _set_pooling(spec, pooling, num_classes)
    if not pretrained:
        spec.weights = {"used": False, "reason": "not requested"}
    elif not arch.weight_files:
        spec.weights = {"used": False, "reason": "no pretrained weights exist for this model"}
    else:
        report = weights_lookup.find_weights(name, weights_dir or Path("weights"))
        spec.weights = load_backbone(spec, report)
    return spec


def replace_module(model: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, leaf = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, module)


def _set_pooling(spec: ModelSpec, pooling: str, num_classes: int) -> None:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling {pooling!r} is not one of {POOLINGS}")
    if spec.pool_path is None:
        raise ValueError(f"{spec.name} has no global pool that feeds its head; only 'avg' pooling")
    replace_module(spec.model, spec.pool_path, AvgMaxPool2d())
    replace_module(spec.model, spec.head_path, nn.Linear(spec.head.in_features * 2, num_classes))
    spec.pooling = pooling


def supports_avgmax(name: str) -> bool:
    return REGISTRY[name](2).pool_path is not None


def load_backbone(spec: ModelSpec, report: weights_lookup.WeightsReport) -> WeightsUse:
    """Load every backbone tensor from the found file into spec.model; the head stays fresh."""
    found = report.to_json()
    info = WeightsUse(
        used=False, arch=report.arch, source=report.source, path=found["path"], expected=found["expected"]
    )
    if not report.found:
        info["reason"] = "no weights file found offline"
        return info
    try:
        state = torch.load(report.path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt or foreign file: say so and train from scratch
        info["reason"] = f"could not read {report.path.name}: {type(exc).__name__}: {exc}"
        return info
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    own = spec.model.state_dict()
    fresh = tuple(f"{path}." for path in (spec.head_path, *spec.fresh_paths))
    head_keys = {k for k in own if k.startswith(fresh)}
    usable = {k: v for k, v in state.items() if k in own and k not in head_keys and own[k].shape == v.shape}
    missing = [k for k in own if k not in usable and k not in head_keys and not k.endswith("num_batches_tracked")]
    if missing:
        info["reason"] = f"{report.path.name} does not fit {spec.name}: {len(missing)} tensors missing or mis-shaped"
        return info
    spec.model.load_state_dict(usable, strict=False)
    info["used"] = True
    log.info("%s: pretrained weights from %s (%s)", spec.name, report.path, report.source)
    return info


def describe(name: str, image_size: int = 224, num_classes: int = 3) -> dict[str, float]:
    """Parameters (millions) and GFLOPs (multiply-adds, torchvision's convention) at image_size."""
    from torch.utils.flop_counter import FlopCounterMode

    spec = build(name, num_classes, pretrained=False, image_size=image_size)
    spec.model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        spec.model(torch.zeros(1, 3, image_size, image_size))
    params = sum(p.numel() for p in spec.model.parameters())
    return {"params_m": params / 1e6, "gflops": counter.get_total_flops() / 2e9}
