"""Grad-CAM family facade: the mask for one photo and class, resized to the photo, and the overlay there."""

from __future__ import annotations

import threading
import warnings
import weakref
from dataclasses import dataclass, replace

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

from core.errors import ValidationError
from core.ml import predict

METHODS = {
    "gradcam": GradCAM,
    "gradcam++": GradCAMPlusPlus,
    "hirescam": HiResCAM,
    "scorecam": ScoreCAM,
    "eigencam": EigenCAM,
    "layercam": LayerCAM,
    "xgradcam": XGradCAM,
}
NAMES = {
    "gradcam": "Grad-CAM",
    "gradcam++": "Grad-CAM++",
    "hirescam": "HiResCAM",
    "scorecam": "Score-CAM",
    "eigencam": "Eigen-CAM",
    "layercam": "LayerCAM",
    "xgradcam": "XGrad-CAM",
}  # proper names, every language
COLORMAPS = {
    "jet": cv2.COLORMAP_JET,
    "turbo": cv2.COLORMAP_TURBO,
    "inferno": cv2.COLORMAP_INFERNO,
    "viridis": cv2.COLORMAP_VIRIDIS,
}


# methods computed from one forward and one backward of the CAM layer alone (ours; pytorch-grad-cam's formulas)
FAST = ("gradcam", "gradcam++", "hirescam", "xgradcam", "layercam", "eigencam")


@dataclass(frozen=True)
class Explanation:
    mask: np.ndarray  # H×W in [0, 1] at the photo's own size
    method: str
    target: str
    probs: np.ndarray | None = None  # the class probabilities of the same forward pass (fast methods)
    overlay: Image.Image | None = None  # the photo with the heatmap blended in, same size; None: not blended yet


class _Capture:
    """A forward hook on the CAM layer, registered once per model and reused by every call. It acts only in the
    thread that armed it (Streamlit sessions share one cached model) and hands the rest of the network a copy
    of a fresh leaf, so the backward pass runs from the logit to that layer and stops there."""

    def __init__(self, layer: torch.nn.Module) -> None:
        self.local = threading.local()
        layer.register_forward_hook(self._hook)

    def _hook(self, _module: torch.nn.Module, _inputs: object, output: torch.Tensor) -> torch.Tensor | None:
        if not getattr(self.local, "armed", False):
            return None
        leaf = output.detach().requires_grad_(True)
        self.local.activation = leaf
        return leaf.clone()  # in-place activations downstream must not write into the leaf

    def run(self, model: torch.nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.local.armed, self.local.activation = True, None
        try:
            with torch.inference_mode(False), torch.enable_grad():
                logits = model(batch)
            activation = self.local.activation
        finally:
            self.local.armed, self.local.activation = False, None
        if activation is None:
            raise RuntimeError("the CAM layer did not run in the forward pass")
        return logits, activation


_captures: weakref.WeakKeyDictionary[torch.nn.Module, _Capture] = weakref.WeakKeyDictionary()
_captures_lock = threading.Lock()


def _capture(layer: torch.nn.Module) -> _Capture:
    with _captures_lock:
        if layer not in _captures:
            _captures[layer] = _Capture(layer)
        return _captures[layer]


def _combine(method: str, a: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
    """C×h×w activations (and their gradients) → the h×w map, by the method's formula."""
    if method == "eigencam":  # the first principal component of the activations, as pytorch-grad-cam computes it
        flat = a.reshape(a.shape[0], -1).T.double().cpu().numpy()
        flat = flat - flat.mean(axis=0)
        vt = np.linalg.svd(flat, full_matrices=False)[2]
        return torch.from_numpy(flat @ vt[0, :]).reshape(a.shape[1:]).float()
    assert g is not None
    if method == "hirescam":
        return (g * a).sum(0)
    if method == "layercam":
        return (g.clamp(min=0) * a).sum(0)
    if method == "gradcam":
        weights = g.mean(dim=(1, 2))
    elif method == "xgradcam":
        weights = (g * a).sum(dim=(1, 2)) / (a.sum(dim=(1, 2)) + 1e-7)
    else:  # gradcam++ (Chattopadhyay et al., eq. 19)
        g2 = g * g
        aij = g2 / (2 * g2 + a.sum(dim=(1, 2), keepdim=True) * g2 * g + 1e-6)
        weights = (g.clamp(min=0) * torch.where(g != 0, aij, 0)).sum(dim=(1, 2))
    return (weights[:, None, None] * a).sum(0)


def _normalise(cam: np.ndarray) -> np.ndarray:
    cam = cam - cam.min()
    return cam / (1e-7 + cam.max())


def _fast(
    predictor: predict.Predictor, batch: torch.Tensor, method: str, target: int | None
) -> tuple[np.ndarray, int, np.ndarray]:
    layers = predictor.spec.cam_target_layers
    logits, activation = _capture(layers[-1]).run(predictor.spec.model, batch)
    probs = torch.softmax(logits.detach().float(), dim=1)[0].cpu().numpy()
    target = int(probs.argmax()) if target is None else target
    _check_target(predictor, target)
    grads = None
    if method != "eigencam":
        grads = torch.autograd.grad(logits[0, target], activation)[0][0].float()
    small = _combine(method, activation.detach()[0].float(), grads).clamp(min=0).cpu().numpy()
    size = batch.shape[-1], batch.shape[-2]
    return _normalise(cv2.resize(_normalise(small).astype(np.float32), size)), target, probs


def _check_target(predictor: predict.Predictor, target: int) -> None:
    n = len(predictor.class_names)
    if not 0 <= target < n:  # pytorch-grad-cam would print and swallow the IndexError: refuse first
        raise ValidationError(
            f"target class {target} is out of range; the model has classes 0..{n - 1}",
            key="diagnose.error.target",
            target=target,
            last=n - 1,
        )


def _library(
    predictor: predict.Predictor, batch: torch.Tensor, method: str, target: int | None
) -> tuple[np.ndarray, int]:
    """pytorch-grad-cam for the methods it alone has (ScoreCAM: one forward per channel, no gradients)."""
    if target is None:
        with torch.inference_mode():
            target = int(predictor.spec.model(batch).argmax(dim=1)[0])
    _check_target(predictor, target)
    # a context manager per call, so the hooks are released whatever happens (every rerun of a page)
    with METHODS[method](model=predictor.spec.model, target_layers=predictor.spec.cam_target_layers) as cam:
        grayscale = cam(input_tensor=batch, targets=[ClassifierOutputTarget(target)])[0]
    return grayscale, target


def compute(
    predictor: predict.Predictor, photo: predict.PhotoInput, method: str = "gradcam", target: int | None = None
) -> tuple[np.ndarray, int, np.ndarray | None]:
    """The model-input-sized mask in [0, 1] for the target class (default: the likeliest), that class, and the
    class probabilities when the same forward pass gave them."""
    if method not in METHODS:
        raise ValidationError(
            f"CAM method {method!r} is unknown; valid: {', '.join(METHODS)}",
            key="diagnose.error.method",
            method=method,
            valid=", ".join(NAMES.values()),
        )
    batch = predict.prepare(predictor, [photo])
    probs = None
    if method in FAST:
        mask, target, probs = _fast(predictor, batch, method, target)
    else:
        mask, target = _library(predictor, batch, method, target)
    return np.clip(np.nan_to_num(mask.astype(np.float32)), 0.0, 1.0), target, probs


def cam_mask(
    predictor: predict.Predictor, photo: predict.PhotoInput, method: str = "gradcam", target: int | None = None
) -> tuple[np.ndarray, int]:
    """The model-input-sized mask in [0, 1] for the target class (default: the likeliest), and that class."""
    mask, target, _ = compute(predictor, photo, method, target)
    return mask, target


def check_style(opacity: float, colormap: str) -> None:
    """Refuse an overlay style before any work is done for it."""
    if colormap not in COLORMAPS:
        raise ValidationError(
            f"colour map {colormap!r} is unknown; valid: {', '.join(COLORMAPS)}",
            key="diagnose.error.colormap",
            colormap=colormap,
            valid=", ".join(COLORMAPS),
        )
    if not 0.0 <= opacity <= 1.0:
        raise ValidationError(
            f"opacity {opacity} must be between 0 and 1", key="diagnose.error.opacity", opacity=opacity
        )


def overlay(image: Image.Image, mask: np.ndarray, opacity: float = 0.45, colormap: str = "jet") -> Image.Image:
    """Blend the colour-mapped mask over the photo at the photo's own size and aspect."""
    check_style(opacity, colormap)
    rgb = np.asarray(image.convert("RGB"))
    full = (
        mask
        if mask.shape == rgb.shape[:2]
        else cv2.resize(mask.astype(np.float32), (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    )
    heat = cv2.applyColorMap(np.uint8(255 * np.clip(full, 0, 1)), COLORMAPS[colormap])
    heat = cv2.cvtColor(heat, cv2.COLOR_BGR2RGB)
    return Image.fromarray(cv2.addWeighted(rgb, 1.0 - opacity, heat, opacity, 0.0))


def explain(
    predictor: predict.Predictor,
    image: Image.Image,
    method: str = "gradcam",
    target: int | None = None,
    opacity: float = 0.45,
    colormap: str = "jet",
    stored: bytes | None = None,
) -> Explanation:
    """Mask and overlay at the photo's own size for the target class (default: the likeliest).

    stored: the photo's working copy when the caller has made it already (the model reads that)."""
    mask, chosen, probs = compute(predictor, image if stored is None else stored, method, target)
    return blended(from_mask(predictor, image, mask, chosen, method, probs), image, opacity, colormap)


def from_mask(
    predictor: predict.Predictor,
    image: Image.Image,
    mask: np.ndarray,
    target: int,
    method: str,
    probs: np.ndarray | None = None,
) -> Explanation:
    """A model-input-sized mask from compute → the Explanation at the photo's own size, not blended yet (no
    model call): a caller that lets the user restyle the heatmap blends it once, in the style shown."""
    full = np.clip(cv2.resize(mask, image.size, interpolation=cv2.INTER_LINEAR), 0.0, 1.0)  # once, at photo size
    return Explanation(full, method, predictor.class_names[target], probs)


def blended(shown: Explanation, image: Image.Image, opacity: float = 0.45, colormap: str = "jet") -> Explanation:
    """The explanation with its mask blended over the photo (the photo it was made for) in this style."""
    return replace(shown, overlay=overlay(image, shown.mask, opacity, colormap))


def faithfulness(predictor: predict.Predictor, image: predict.PhotoInput, mask: np.ndarray, target: int) -> float:
    """ROAD (Rong et al. 2022, pytorch-grad-cam's metrics): how much the target's probability falls when the
    pixels the mask calls relevant are removed, minus when the irrelevant ones are, averaged over removal
    percentiles. Higher is more faithful; a mask that shows nothing the model uses scores about 0.

    mask is the model-input-sized mask from cam_mask.
    """
    from pytorch_grad_cam.metrics.road import ROADCombined
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    _check_target(predictor, target)
    batch = predict.prepare(predictor, [image])
    metric = ROADCombined(percentiles=[20, 40, 60, 80])
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the library hands tensors to numpy the old way
        score = metric(
            batch, mask[None, :, :].astype(np.float32), [ClassifierOutputSoftmaxTarget(target)], predictor.spec.model
        )
    return float(np.asarray(score).ravel()[0])
