"""Diagnosis latency of one 12-megapixel JPEG, end to end, against two baselines measured in the same run.

    .venv/bin/python bench/diagnose.py [--repeats 30] [--arch efficientnet_lite0] [--size 224] [--device cpu]

End to end = decode (draft mode) + quality checks + the working copy + model + Grad-CAM + overlay at the
photo's working size, exactly what the Diagnose page and `predict --cam` run (core.ml.diagnosis.diagnose).
  plain    the same pipeline without Grad-CAM (one forward pass)
  ours     with Grad-CAM: probabilities and CAM from one forward and one backward to the CAM layer, hook reused
  library  plain + pytorch-grad-cam's default usage: a new GradCAM object per call (its own forward and a
           backward through the whole network) and show_cam_on_image
The variants run interleaved in rotating order; p50/p95 in ms and the ratios are printed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from common import big_jpeg, machine, percentiles
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import show_cam_on_image

from core.ml import diagnosis, explain, models, predict
from core.workspace import open_workspace

CLASSES = ("normal", "broken", "missing")


def library_default(ws, predictor: predict.Predictor, data: bytes) -> np.ndarray:
    """What pytorch-grad-cam's README does for one photo, after the same plain diagnosis."""
    found = diagnosis.diagnose(ws, predictor, "photo.jpg", data)
    batch = predict.prepare(predictor, [found.image])
    cam = GradCAM(model=predictor.spec.model, target_layers=predictor.spec.cam_target_layers)
    mask = cam(input_tensor=batch, targets=None)[0]
    rgb = np.asarray(found.image, dtype=np.float32) / 255
    return show_cam_on_image(rgb, cv2.resize(mask, found.image.size), use_rgb=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--arch", default="efficientnet_lite0")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    spec = models.build(args.arch, len(CLASSES), pretrained=True, image_size=args.size)
    spec.model.eval().requires_grad_(False).to(args.device)
    predictor = predict.Predictor(None, spec, CLASSES, None, torch.device(args.device))  # type: ignore[arg-type]
    data = big_jpeg(7)
    ws = open_workspace(Path(tempfile.mkdtemp(prefix="bench-diagnose-")))
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    def ours() -> None:
        diagnosis.diagnose(ws, predictor, "photo.jpg", data, cam=diagnosis.CamSettings())

    def plain() -> None:
        diagnosis.diagnose(ws, predictor, "photo.jpg", data)

    def library() -> None:
        predictor.spec.model.requires_grad_(True)  # a model as the library's users have it
        try:
            library_default(ws, predictor, data)
        finally:
            predictor.spec.model.requires_grad_(False)

    batch = predict.prepare(predictor, [diagnosis.diagnose(ws, predictor, "photo.jpg", data).image])

    def forward_only() -> None:
        with torch.inference_mode():
            predictor.spec.model(batch)

    def cam_only() -> None:
        explain._fast(predictor, batch, "gradcam", None)

    variants = {
        "plain": plain,
        "ours": ours,
        "library": library,
        "model forward": forward_only,
        "model forward+CAM": cam_only,
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for fn in variants.values():  # warm-up: first calls allocate and pick kernels
        fn(), fn()
    order = list(variants)
    for i in range(args.repeats):
        for name in order[i % len(order) :] + order[: i % len(order)]:
            sync()
            start = time.perf_counter()
            variants[name]()
            sync()
            times[name].append(time.perf_counter() - start)
    p = {name: percentiles(t) for name, t in times.items()}
    print(
        f"# {machine()}; {args.arch} at {args.size} px on {args.device}; 12 MP JPEG ({len(data) / 1e6:.1f} MB); "
        f"{args.repeats} repeats"
    )
    for name, (p50, p95) in p.items():
        print(f"{name:>18}: p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
    result = {
        "end_to_end_ours_over_plain": p["ours"][0] / p["plain"][0],
        "end_to_end_library_over_ours": p["library"][0] / p["ours"][0],
        "model_cam_over_forward": p["model forward+CAM"][0] / p["model forward"][0],
    }
    print(f"Grad-CAM overhead, end to end: ours / plain = {result['end_to_end_ours_over_plain']:.2f}× (bar ≤ 1.5×)")
    print(f"model alone: forward+backward+CAM / forward = {result['model_cam_over_forward']:.2f}×")
    print(f"pytorch-grad-cam default / ours = {result['end_to_end_library_over_ours']:.2f}× (bar > 1×)")
    print(
        json.dumps(
            {
                "bench": "diagnose",
                **{k: round(v, 3) for k, v in result.items()},
                **{f"{k}_p50_ms": round(v[0], 1) for k, v in p.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
