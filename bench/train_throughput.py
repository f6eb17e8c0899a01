"""Training images/s: our data path vs an ImageFolder baseline vs the compute bound, measured in the same run.

    .venv/bin/python bench/train_throughput.py [--photos crops|camera] [--n 256] [--epochs 3]
                                               [--arch efficientnet_lite0] [--size 224] [--batch 32]

All three run the very same step (core.ml.trainer.train_one_epoch: forward, loss, backward, AdamW, progress);
only where the batches come from differs:
  ours      the run's photos decoded once into a uint8 tensor cache (core.ml.data.decode_all, counted in epoch 1),
            then whole uint8 batches gathered from it (core.ml.trainer's own loader), mirrored and normalised
            per batch (core.ml.transforms.BatchPrep, `flip` preset)
  baseline  torchvision ImageFolder + DataLoader: every JPEG decoded and resized again every epoch, same preset
            (the best of num_workers 0 and 2 on this machine is kept)
  bound     the same model fed random in-memory tensors of the same shape: no data path at all
--photos crops: bolt crops of 112-300 px, what the plant uploads (and what ../shared/datasets/screws holds);
--photos camera: 2448x2048 camera JPEGs, a whole wheel photo per file.
Epoch 1 is reported apart (ours decodes there); the ratios use the mean of the later epochs.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from common import big_jpeg, machine
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.transforms import v2

from core import demo
from core.config import TrainConfig
from core.ml import data, models, runtime, train_state, trainer, transforms

CAMERA = (2448, 2048)
N_CLASSES = len(demo.CLASSES)


def make_photos(root: Path, n: int, kind: str) -> list[tuple[Path, int]]:
    """An ImageFolder tree root/<class>/<i>.jpg; returns (path, class index) in ImageFolder's order."""
    for i in range(n):
        label = demo.CLASSES[i % len(demo.CLASSES)]
        path = root / label / f"{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_bytes(big_jpeg(5000 + i, label, CAMERA) if kind == "camera" else demo.render_crop(i, label).jpeg)
    found = datasets.ImageFolder(str(root))
    return [(Path(p), t) for p, t in found.samples]


def context(args, n_classes: int) -> trainer.RunContext:
    config = TrainConfig(
        arch=args.arch,
        image_size=args.size,
        batch_size=args.batch,
        epochs=args.epochs,
        augment="flip",
        pretrained=True,
        amp=not args.no_amp,
        channels_last=not args.no_amp,
    )
    return trainer.RunContext(config, demo.CLASSES[:n_classes], [], [], Path("."), Path("."))


def run_epochs(ctx, args, loaders, prep=None) -> list[float]:
    """images/s of each epoch for a fresh model; loaders(epoch) gives that epoch's batches."""
    torch.manual_seed(0)
    device = runtime.pick_device()
    model = models.build(args.arch, N_CLASSES, pretrained=True, image_size=args.size).model.to(device)
    if device.type == "cuda" and ctx.config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = train_state.OPTIMIZERS["adamw"](model.parameters(), ctx.config)
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda" and ctx.config.amp)
    step = train_state.Step(torch.nn.CrossEntropyLoss(), optimizer, scaler, prep=prep)
    rates = []
    for epoch in range(1, ctx.config.epochs + 1):
        start = time.perf_counter()
        batches = loaders(epoch)
        trainer.train_one_epoch(model, batches, step, device, ctx, epoch)
        rates.append(_count(batches) / (time.perf_counter() - start))  # each step reads its loss: synchronised
    return rates


def _count(batches) -> int:
    return len(batches.dataset) if isinstance(batches, DataLoader) else sum(len(t) for _, t in batches)


def ours(ctx, args, samples):
    state = {}
    pre = models.build(args.arch, N_CLASSES, pretrained=False, image_size=args.size).preprocess

    def loaders(epoch):
        if "ds" not in state:  # epoch 1 pays for decoding (and the move to the GPU), as a run does
            cache = data.decode_all([p for p, _ in samples], args.size)
            cache = trainer._on_device(cache, runtime.pick_device(), ctx.config)
            state["ds"] = data.CachedImages(cache, [t for _, t in samples])
        return trainer._train_loader(ctx, state["ds"], epoch)

    return run_epochs(ctx, args, loaders, transforms.BatchPrep("flip", pre))


def baseline(ctx, args, root: Path, workers: int):
    pre = models.build(args.arch, N_CLASSES, pretrained=False, image_size=args.size).preprocess
    tf = v2.Compose(
        [
            v2.ToImage(),
            v2.Resize((pre.size, pre.size), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.RandomVerticalFlip(),  # the `flip` preset, photo by photo
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(pre.mean), list(pre.std)),
        ]
    )
    folder = datasets.ImageFolder(str(root), transform=tf)
    return run_epochs(
        ctx,
        args,
        lambda epoch: DataLoader(
            folder,
            batch_size=ctx.config.batch_size,
            shuffle=True,
            num_workers=workers,
            pin_memory=torch.cuda.is_available(),
        ),
    )


def bound(ctx, args, n: int):
    """Random batches already where the model runs (GPU memory on a GPU)."""
    size, batch, device = args.size, ctx.config.batch_size, runtime.pick_device()
    gen = torch.Generator().manual_seed(0)
    batches = [
        (
            torch.randn(min(batch, n - i), 3, size, size, generator=gen).to(device),
            torch.randint(0, N_CLASSES, (min(batch, n - i),), generator=gen).to(device),
        )
        for i in range(0, n, batch)
    ]
    return run_epochs(ctx, args, lambda epoch: batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", choices=("crops", "camera"), default="crops")
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--arch", default="efficientnet_lite0")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="baseline num_workers to try")
    parser.add_argument("--no-amp", action="store_true", help="GPU: without AMP and channels_last")
    parser.add_argument("--folder", help="where the photos are made (kept); default: a temp folder")
    args = parser.parse_args()
    root = Path(args.folder or tempfile.mkdtemp(prefix="bench-train-")) / args.photos
    t0 = time.perf_counter()
    samples = make_photos(root, args.n, args.photos)
    print(
        f"{machine()}\n{args.n} {args.photos} photos ready in {time.perf_counter() - t0:.0f} s; "
        f"{args.arch} at {args.size} px, batch {args.batch}, {args.epochs} epochs each, "
        f"on {runtime.pick_device()}"
    )
    runtime.tune_allocator()  # as the training worker does
    ctx = context(args, N_CLASSES)
    warm = argparse.Namespace(**{**vars(args), "epochs": 1})  # first-use costs land in no variant's figures
    bound(context(warm, N_CLASSES), warm, args.batch * 2)
    rates = {"ours": ours(ctx, args, samples)}
    for w in args.workers:
        rates[f"baseline_w{w}"] = baseline(ctx, args, root, w)
    rates["bound"] = bound(ctx, args, args.n)
    report(rates)


def report(rates: dict[str, list[float]]) -> None:
    later = {k: sum(v[1:]) / max(1, len(v) - 1) for k, v in rates.items()}
    base = max((k for k in later if k.startswith("baseline")), key=later.get)
    for k, v in rates.items():
        print(f"{k:12s} epoch 1 {v[0]:8.1f} img/s   later epochs {later[k]:8.1f} img/s")
    print(f"ours / baseline ({base}) after epoch 1: {later['ours'] / later[base]:.2f}x (bar >= 3x)")
    print(f"ours / compute bound: {100 * later['ours'] / later['bound']:.0f}% (bar >= 80% on CPU, 90% on GPU)")
    print(
        f"baseline / compute bound: {100 * later[base] / later['bound']:.0f}%: no data path can beat the baseline "
        f"by more than bound / baseline = {later['bound'] / later[base]:.2f}x here"
    )
    print(json.dumps({"rates": rates, "later": later}))


if __name__ == "__main__":
    main()
