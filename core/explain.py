"""Grad-CAM family facade: the mask for one photo and class, resized to the photo, and the overlay there."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from PIL import Image
from pytorch_grad_cam import (
    EigenCAM,
    GradCAM,
    GradCAMPlusPlus,
    HiResCAM,
    LayerCAM,
    ScoreCAM,
    XGradCAM,
)
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from core import predict
from core.errors import ValidationError

METHODS = {"gradcam": GradCAM, "gradcam++": GradCAMPlusPlus, "hirescam": HiResCAM, "scorecam": ScoreCAM,
           "eigencam": EigenCAM, "layercam": LayerCAM, "xgradcam": XGradCAM}
COLORMAPS = {"jet": cv2.COLORMAP_JET, "turbo": cv2.COLORMAP_TURBO, "inferno": cv2.COLORMAP_INFERNO,
             "viridis": cv2.COLORMAP_VIRIDIS}


@dataclass(frozen=True)
class Explanation:
    mask: np.ndarray  # H×W in [0, 1] at the photo's own size
    overlay: Image.Image  # the photo with the heatmap blended in, same size
    method: str
    target: str


def cam_mask(predictor: predict.Predictor, image: Image.Image, method: str = "gradcam",
             target: int | None = None) -> tuple[np.ndarray, int]:
    """The model-input-sized mask in [0, 1] for the target class (default: the likeliest), and that class."""
    if method not in METHODS:
        raise ValidationError(f"CAM method {method!r} is unknown; valid: {', '.join(METHODS)}")
    n = len(predictor.class_names)
    batch = predict.prepare(predictor, [image])
    if target is None:
        with torch.inference_mode():
            target = int(predictor.spec.model(batch).argmax(dim=1)[0])
    if not 0 <= target < n:  # pytorch-grad-cam would print and swallow the IndexError: refuse first
        raise ValidationError(f"target class {target} is out of range; the model has classes 0..{n - 1}")
    # a context manager per call, so the hooks are released whatever happens (every rerun of a page)
    with METHODS[method](model=predictor.spec.model, target_layers=predictor.spec.cam_target_layers) as cam:
        grayscale = cam(input_tensor=batch, targets=[ClassifierOutputTarget(target)])[0]
    grayscale = np.nan_to_num(grayscale.astype(np.float32))
    return np.clip(grayscale, 0.0, 1.0), target


def overlay(image: Image.Image, mask: np.ndarray, opacity: float = 0.45, colormap: str = "jet") -> Image.Image:
    """Blend the colour-mapped mask over the photo at the photo's own size and aspect."""
    if colormap not in COLORMAPS:
        raise ValidationError(f"colour map {colormap!r} is unknown; valid: {', '.join(COLORMAPS)}")
    if not 0.0 <= opacity <= 1.0:
        raise ValidationError(f"opacity {opacity} must be between 0 and 1")
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    full = cv2.resize(mask.astype(np.float32), (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    heat = cv2.applyColorMap(np.uint8(255 * np.clip(full, 0, 1)), COLORMAPS[colormap])[:, :, ::-1]
    blended = (1 - opacity) * rgb + opacity * heat.astype(np.float32)
    return Image.fromarray(np.clip(blended, 0, 255).astype(np.uint8))


def explain(predictor: predict.Predictor, image: Image.Image, method: str = "gradcam", target: int | None = None,
            opacity: float = 0.45, colormap: str = "jet") -> Explanation:
    """Mask and overlay at the photo's own size for the target class (default: the likeliest)."""
    mask, chosen = cam_mask(predictor, image, method, target)
    full = cv2.resize(mask, image.size, interpolation=cv2.INTER_LINEAR)
    return Explanation(np.clip(full, 0.0, 1.0), overlay(image, mask, opacity, colormap), method,
                       predictor.class_names[chosen])


def faithfulness(predictor: predict.Predictor, image: Image.Image, mask: np.ndarray, target: int) -> float:
    """ROAD (Rong et al. 2022, pytorch-grad-cam's metrics): how much the target's probability falls when the
    pixels the mask calls relevant are removed, minus when the irrelevant ones are, averaged over removal
    percentiles. Higher is more faithful; a mask that shows nothing the model uses scores about 0.

    mask is the model-input-sized mask from cam_mask.
    """
    from pytorch_grad_cam.metrics.road import ROADCombined
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    if not 0 <= target < len(predictor.class_names):
        raise ValidationError(f"target class {target} is out of range")
    batch = predict.prepare(predictor, [image])
    metric = ROADCombined(percentiles=[20, 40, 60, 80])
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the library hands tensors to numpy the old way
        score = metric(batch, mask[None, :, :].astype(np.float32), [ClassifierOutputSoftmaxTarget(target)],
                       predictor.spec.model)
    return float(np.asarray(score).ravel()[0])
