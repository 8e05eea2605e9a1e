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
from sketchplot.model.scoring import class_scores  # noqa: E402

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
    reports, sizes = [], []
    for index, name in enumerate(classifier.classes):
        sketches = read_sketch_file(args.data / f"{name}.npz", args.split).sketches
        reports.append(class_scores(classifier.predict(sketches).probabilities, index, classifier.classes))
        sizes.append(len(sketches))
    sizes = np.array(sizes)
    top1 = np.array([r["recognizability"] for r in reports])
    top5 = np.array([r["top5"] for r in reports])
    print(
        f"{args.split} split, {sizes.sum()} drawings of {len(classifier.classes)} classes: "
        f"top-1 {np.average(top1, weights=sizes):.3f}, top-5 {np.average(top5, weights=sizes):.3f}, "
        f"class-balanced top-1 {top1.mean():.3f} ({time.time() - started:.0f} s)\n"
    )
    print("| class | drawings | top-1 | top-5 | most often called |")
    print("|---|---|---|---|---|")
    for name in args.classes:
        k = classifier.class_index(name)
        common = ", ".join(f"{other} {share:.2f}" for other, share in reports[k]["confused_with"].items())
        print(f"| {classifier.classes[k]} | {sizes[k]} | {top1[k]:.2f} | {top5[k]:.2f} | {common} |")
    worst = np.argsort(top1, kind="stable")[:10]
    print("\nweakest classes: " + ", ".join(f"{classifier.classes[k]} {top1[k]:.2f}" for k in worst))


if __name__ == "__main__":
    main()
