"""Figures for MODELS.md: test NLL of a model vs Magenta's reference models, sample statistics,
and 16-sample previews per class.

For each class: our model's test NLL (offset + pen, per real point, in units of the class
file's train std) next to the Magenta sketch-rnn-js model's on the same test split; and 200
samples at temperature 0.5 compared with the test data: mean points, mean strokes and the
fraction that ran to the length cap (a model that rarely samples the end state scribbles on).
Writes ``docs/models/<class>.svg`` (16 samples at temperature 0.5) and prints markdown.

    python bench/model_card.py [--model sketchplot/model/shipped/quickdraw9] [--limit N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from sketchplot.model.data import load_sketches, prepare
from sketchplot.model.evaluate import evaluate_file
from sketchplot.model.registry import load_any
from sketchplot.model.sample import sample
from sketchplot.plotter.pipeline import plot_page
from sketchplot.plotter.preview import write_preview
from sketchplot.plotter.strokes import from_origin

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "quickdraw"
PRETRAINED = ROOT.parent / "shared" / "data" / "pretrained"


def stroke_stats(sketches: list[np.ndarray], cap: int) -> tuple[float, float, float]:
    points = np.array([len(s) for s in sketches])
    strokes = np.array([int((s[:, 2] > 0.5).sum()) for s in sketches])
    return float(points.mean()), float(strokes.mean()), float((points >= cap).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "sketchplot" / "model" / "shipped" / "quickdraw9"))
    parser.add_argument("--limit", type=int, default=None, help="test sketches per class (default: all)")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--temperature", type=float, default=0.5)
    parser.add_argument("--previews", default=str(ROOT / "docs" / "models"))
    args = parser.parse_args()
    decoder, info = load_any(args.model)
    Path(args.previews).mkdir(parents=True, exist_ok=True)
    print(f"model: {args.model} ({', '.join(info.classes)}); temperature {args.temperature}\n")
    print("| class | test sketches | ours NLL (offset + pen) | Magenta NLL (offset + pen) | ours - Magenta |")
    print("|---|---|---|---|---|")
    sample_rows = []
    for index, name in enumerate(info.classes):
        path = DATA / f"{name}.npz"
        ours = evaluate_file(decoder, info.scale, path, class_index=index, max_seq_len=info.max_seq_len,
                             limit=args.limit)
        reference = PRETRAINED / f"{name}.gen.json"
        if reference.exists():
            magenta_decoder, magenta_info = load_any(reference)
            theirs = evaluate_file(magenta_decoder, None, path, max_seq_len=info.max_seq_len, limit=args.limit)
            magenta = f"{theirs.nll:.3f} ({theirs.offset_nll:.3f} + {theirs.pen_ce:.3f})"
            delta = f"{ours.nll - theirs.nll:+.3f}"
        else:
            magenta, delta = "no reference model", ""
        print(f"| {name} | {ours.n_sketches} | {ours.nll:.3f} ({ours.offset_nll:.3f} + {ours.pen_ce:.3f}) "
              f"| {magenta} | {delta} |", flush=True)

        test = prepare(load_sketches(path, "test"), info.max_seq_len)
        start = time.perf_counter()
        drawn = sample(decoder, args.samples, scale=info.scale, temperature=args.temperature, seed=index,
                       class_index=index, max_len=info.max_seq_len)
        seconds = time.perf_counter() - start
        sample_rows.append((name, stroke_stats(test, info.max_seq_len), stroke_stats(drawn, info.max_seq_len), seconds))
        page = plot_page([from_origin(s) for s in drawn[:16]], paper="200x200", landscape=None, margin_mm=5,
                         grid=(4, 4), gutter_mm=4)
        write_preview(page.document, Path(args.previews) / f"{name}.svg")

    print(f"\n| class | data points / strokes | samples points / strokes | samples at the {info.max_seq_len}-point cap "
          f"| {args.samples} samples took |")
    print("|---|---|---|---|---|")
    for name, data, drawn, seconds in sample_rows:
        print(f"| {name} | {data[0]:.1f} / {data[1]:.1f} | {drawn[0]:.1f} / {drawn[1]:.1f} | {drawn[2]:.1%} "
              f"| {seconds:.1f} s |")


if __name__ == "__main__":
    main()
