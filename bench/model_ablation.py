"""One model setting against another: the same tiny model, data and steps, only that setting differs.

Settings compared so far (MODELS.md has the results):
- pen loss, focal vs cross-entropy: ``--setting pen_loss --values ce focal``;
- pen head, Sketch-RNN's independent pen vs a pen per mixture component:
  ``--setting pen_head --values independent joint``;
- the absolute pen position as an input: ``--setting absolute_position --values false true``.

Measures test NLL (offsets plus the true pen cross-entropy, evaluate.py units, comparable
across heads) and what the samples look like at temperature 0.5 against the test data: mean
points, mean strokes, and the fraction of samples that never end (hit the length cap), with
the pen logits cooled like the mixture (Sketch-RNN, pen T=0.5) and left alone (pen T=1).
Prints all side by side.

    OMP_NUM_THREADS=1 nice -n 15 python bench/model_ablation.py --steps 1000
    OMP_NUM_THREADS=1 nice -n 15 python bench/model_ablation.py --setting pen_head --values independent joint
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from sketchplot.core.formats import read_stroke3_file
from sketchplot.model.data import prepare
from sketchplot.model.evaluate import evaluate_file
from sketchplot.model.files import load_decoder
from sketchplot.model.sample import sample
from sketchplot.model.train import TrainConfig, train


def shape_stats(sketches: list[np.ndarray], cap: int) -> dict:
    points = np.array([len(s) for s in sketches])
    strokes = np.array([int((s[:, 2] > 0.5).sum()) for s in sketches])
    return {"points": float(points.mean()), "strokes": float(strokes.mean()), "capped": float((points >= cap).mean())}


def setting_value(text: str):
    """A value as the TOML config would give it: true/false and numbers, else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def run(value: str, data: Path, args, out: Path) -> dict:
    cfg = TrainConfig.from_dict(
        {
            "batch_size": 64,
            "max_steps": args.steps,
            "warmup_steps": 100,
            "learning_rate": 2e-3,
            "eval_interval": args.steps,
            "checkpoint_interval": args.steps,
            "log_interval": 100,
            "device": "cpu",
            "save_half": False,
            "seed": args.seed,
            "model": {"n_layer": 2, "n_head": 4, "n_embd": 64, "dropout": 0.1, args.setting: setting_value(value)},
        }
    )
    started = time.time()
    train([data.stem], [data], out, cfg, progress=False)
    seconds = time.time() - started
    decoder, info = load_decoder(out / "best")
    result = evaluate_file(decoder, info.scale, data, split="test").to_dict()
    rows = []
    for pen_temperature in (0.5, 1.0):
        sketches = sample(
            decoder,
            args.samples,
            scale=info.scale,
            temperature=0.5,
            seed=args.seed,
            max_len=args.cap,
            pen_temperature=pen_temperature,
        )
        rows.append(
            {
                "run": f"{value} penT={pen_temperature:g}",
                "train_seconds": round(seconds, 1),
                "test_nll": result["nll"],
                "test_offset_nll": result["offset_nll"],
                "test_pen_ce": result["pen_ce"],
                "test_l_r": result["l_r"],
                **shape_stats(sketches, args.cap),
            }
        )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/quickdraw/cat.npz"
    )
    parser.add_argument("--setting", default="pen_loss", help="a [model] setting of the training config")
    parser.add_argument("--values", nargs="+", default=["ce", "focal"])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--cap", type=int, default=250)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    test = prepare(read_stroke3_file(args.data, "test"), args.cap)
    rows = [{"run": "test data", **shape_stats(test, args.cap)}]
    with tempfile.TemporaryDirectory() as tmp:
        for value in args.values:
            rows += run(value, args.data, args, Path(tmp) / value)
            print(json.dumps(rows[-2:]), flush=True)
    print(f"\n{args.data.name}, {args.steps} steps, tiny model (2 layers, 64 wide), {args.samples} samples at T=0.5")
    print(
        f"{args.setting:16} {'test NLL':>9} {'offset':>8} {'pen CE':>8} {'L_R':>7} {'points':>7} {'strokes':>8} {'capped':>7}"
    )
    for r in rows:
        nll = "".join(
            f" {r[k]:>{w}.3f}" if k in r else f" {'':>{w}}"
            for k, w in (("test_nll", 9), ("test_offset_nll", 8), ("test_pen_ce", 8), ("test_l_r", 7))
        )
        print(f"{r['run']:16}{nll} {r['points']:7.1f} {r['strokes']:8.2f} {r['capped']:7.3f}")


if __name__ == "__main__":
    main()
