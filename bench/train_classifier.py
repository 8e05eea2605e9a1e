"""Train the 345-class sketch classifier that ships in sketchplot/model/classifier_weights.

    python bench/train_classifier.py --data ../shared/data/quickdraw --out sketchplot/model/classifier_weights

Train split only (the valid split picks the best epoch; the test split is only reported).
Every epoch renders a fresh, randomly distorted copy of the training sketches (rotation,
anisotropic scale, shear, mirror) through the same rasteriser that scores them. About 40
minutes on 2 CPU cores; `--device cuda` runs the same script on a GPU. The weights are
exported with batch norm folded into the convolutions, as fp16 safetensors + JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sketchplot.core.formats import drop_start_row, read_npz  # noqa: E402
from sketchplot.model.classifier import RasterSpec, load_classifier, render, save_classifier  # noqa: E402
from sketchplot.model.classifier_net import SketchCNN, folded_weights  # noqa: E402


def distort(sketch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random small rotation, anisotropic scale, shear and mirror of a stroke-3 sketch."""
    angle = rng.uniform(-0.2, 0.2)
    c, s = math.cos(angle), math.sin(angle)
    sx, sy = rng.uniform(0.8, 1.2, size=2)
    shear = rng.uniform(-0.2, 0.2)
    matrix = np.array([[c, -s], [s, c]]) @ np.array([[sx, shear], [0, sy]])
    if rng.random() < 0.5:
        matrix = matrix @ np.diag([-1.0, 1.0])
    out = sketch.astype(np.float32).copy()
    out[:, :2] = sketch[:, :2] @ matrix.T.astype(np.float32)
    return out


def load_split(data: Path, classes: list[str], split: str, limit: int | None = None):
    sketches, labels = [], []
    for index, name in enumerate(classes):
        rows = [drop_start_row(np.asarray(s, np.float32)) for s in read_npz(data / f"{name}.npz", split)]
        rows = rows[:limit] if limit else rows
        sketches += rows
        labels += [index] * len(rows)
    return sketches, np.array(labels, dtype=np.int64)


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    top5 = np.argsort(-probabilities, axis=1)[:, :5]
    return float(np.mean(top5[:, 0] == labels)), float(np.mean((top5 == labels[:, None]).any(axis=1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/quickdraw")
    parser.add_argument("--out", type=Path, default=Path("sketchplot/model/classifier_weights"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--stages", default="16/48,48/96,96")
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--limit", type=int, help="Sketches per class (quick trials).")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    classes = sorted(p.stem for p in args.data.glob("*.npz"))
    stages = [[int(c) for c in stage.split(",")] for stage in args.stages.split("/")]
    spec = RasterSpec(size=args.size)
    train_x, train_y = load_split(args.data, classes, "train", args.limit)
    valid_x, valid_y = load_split(args.data, classes, "valid", args.limit)
    valid_images = torch.from_numpy(render(valid_x, spec))[:, None]
    print(f"{len(classes)} classes, {len(train_x)} train, {len(valid_x)} valid sketches", flush=True)

    net = SketchCNN(stages, args.size, args.hidden, len(classes), args.dropout).to(args.device)
    steps_per_epoch = math.ceil(len(train_x) / args.batch)
    optimiser = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, args.lr, total_steps=args.epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    config = {
        "classes": classes,
        "raster": {"size": spec.size, "padding": spec.padding, "gain": spec.gain},
        "stages": stages,
        "hidden": args.hidden,
        "training": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "attribution": "Trained on the train split of the Quick, Draw! dataset, Google Inc., CC BY 4.0",
    }
    best, started = -1.0, time.time()
    for epoch in range(args.epochs):
        images = torch.from_numpy(render([distort(s, rng) for s in train_x], spec))[:, None]
        order = torch.from_numpy(rng.permutation(len(train_x)))
        net.train()
        total = 0.0
        for step in range(steps_per_epoch):
            batch = order[step * args.batch : (step + 1) * args.batch]
            x, y = images[batch].to(args.device), torch.from_numpy(train_y[batch.numpy()]).to(args.device)
            loss = loss_fn(net(x), y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item()
        net.eval()
        with torch.no_grad():
            logits = torch.cat(
                [net(valid_images[i : i + 1024].to(args.device)).cpu() for i in range(0, len(valid_images), 1024)]
            )
        top1, top5 = accuracy(torch.softmax(logits, 1).numpy(), valid_y)
        print(
            f"epoch {epoch + 1}: loss {total / steps_per_epoch:.3f}, valid top-1 {top1:.3f} top-5 {top5:.3f}, {time.time() - started:.0f} s",
            flush=True,
        )
        if top1 > best:
            best = top1
            config["training"].update(
                epoch=epoch + 1, valid_top1=top1, valid_top5=top5, seconds=round(time.time() - started)
            )
            save_classifier(args.out, config, folded_weights(net.cpu(), stages))
            net.to(args.device)

    classifier = load_classifier(args.out)
    test_x, test_y = load_split(args.data, classes, "test", args.limit)
    top1, top5 = accuracy(classifier.predict(test_x).probabilities, test_y)
    print(json.dumps({"test_top1": round(top1, 4), "test_top5": round(top5, 4), "valid_top1": round(best, 4)}))


if __name__ == "__main__":
    main()
