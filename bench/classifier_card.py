"""The sketch classifier's own card: test top-1 / top-5 over all 345 classes, and per class for
the classes the shipped models draw (with what each is most often mistaken for).

    python bench/classifier_card.py [--classes cat dog ...] [--split test]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sketchplot.core.formats import read_sketch_file  # noqa: E402
from sketchplot.model.classifier import load_classifier  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "quickdraw"
SHIPPED_CLASSES = ["bear", "bicycle", "bird", "cat", "dog", "monkey", "mosquito", "rabbit", "sheep", "pig"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--split", default="test")
    parser.add_argument("--classes", nargs="*", default=SHIPPED_CLASSES)
    args = parser.parse_args()
    classifier = load_classifier()
    started = time.time()
    ranks, labels = [], []
    for index, name in enumerate(classifier.classes):
        sketches = read_sketch_file(args.data / f"{name}.npz", args.split).sketches
        top5 = np.argsort(-classifier.predict(sketches).probabilities, axis=1, kind="stable")[:, :5]
        ranks.append(top5)
        labels.append(np.full(len(top5), index))
    ranks, labels = np.concatenate(ranks), np.concatenate(labels)
    top1, top5 = ranks[:, 0] == labels, (ranks == labels[:, None]).any(axis=1)
    per_class = np.array([top1[labels == k].mean() for k in range(len(classifier.classes))])
    print(
        f"{args.split} split, {len(labels)} drawings of {len(classifier.classes)} classes: "
        f"top-1 {top1.mean():.3f}, top-5 {top5.mean():.3f}, class-balanced top-1 {per_class.mean():.3f} "
        f"({time.time() - started:.0f} s)\n"
    )
    print("| class | drawings | top-1 | top-5 | most often called |")
    print("|---|---|---|---|---|")
    for name in args.classes:
        k = classifier.class_index(name)
        mask = labels == k
        wrong = ranks[mask, 0][ranks[mask, 0] != k]
        names, counts = np.unique(wrong, return_counts=True)
        common = ", ".join(
            f"{classifier.classes[n]} {c / mask.sum():.2f}"
            for n, c in sorted(zip(names, counts), key=lambda t: -t[1])[:3]
        )
        print(
            f"| {classifier.classes[k]} | {mask.sum()} | {top1[mask].mean():.2f} | {top5[mask].mean():.2f} | {common} |"
        )
    worst = np.argsort(per_class)[:10]
    print("\nweakest classes: " + ", ".join(f"{classifier.classes[k]} {per_class[k]:.2f}" for k in worst))


if __name__ == "__main__":
    main()
