"""Figures for MODELS.md about a conditional (VAE) model: test L_R and L_KL, how much the decoder
relies on its latent code, and SVG previews of reconstructions, an interpolation and completions.

For each class the model draws: the paper's L_R and L_KL on the test split (evaluate.py units,
z drawn from q as in training), the test NLL when each sketch is decoded with its own code and
with another sketch's code (the gap is what z tells the decoder; 0 means the decoder ignores z),
the spread of the codes' means across sketches next to the posterior sigma, and the points and
strokes of reconstructions against their inputs. Writes to ``--previews``:
``<name>-reconstructions.svg`` (8 test sketches in black, 2 reconstructions each below in blue),
``<name>-interpolation.svg`` (a row between the first two test sketches; with ``--pair A B``,
from the class A test sketch to the class B one that lie furthest apart along the line
between the two classes' mean codes) and ``<name>-completions.svg`` (4 test sketches cut to the first
third of their strokes, in black, with 3 endings each in blue, codes from the prior as
``sketchplot complete`` draws them). For completion it also counts
the strokes the endings add to 100 cut test sketches, with the code of the partial drawing,
with codes from the prior, and with the unconditional ``--baseline`` model, against the
strokes the people actually drew after the cut.

    OMP_NUM_THREADS=1 python bench/vae_card.py --model sketchplot/model/shipped/cat-vae
    OMP_NUM_THREADS=1 python bench/vae_card.py --model sketchplot/model/shipped/catpig-vae --pair cat pig
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from sketchplot.core.formats import from_origin, read_stroke3_file, split_polylines, strokes_to_polylines
from sketchplot.model.data import prepare
from sketchplot.model.evaluate import evaluate_file
from sketchplot.model.files import load_decoder, load_encoder
from sketchplot.model.latent import encode, interpolate
from sketchplot.model.sample import sample
from sketchplot.plotter.pipeline import plot_page
from sketchplot.plotter.preview import write_preview

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "quickdraw"


class AnotherSketchsCode:
    """An encoder that hands each sketch the code of the next sketch in its batch."""

    def __init__(self, encoder):
        self.encoder = encoder

    def encode(self, sketches, mask):
        mu, sigma_hat = self.encoder.encode(sketches, mask)
        return np.roll(mu, 1, axis=0), np.roll(sigma_hat, 1, axis=0)


def counts(sketches):
    return np.mean([len(s) for s in sketches]), np.mean([(s[:, 2] > 0.5).sum() for s in sketches])


def test_sketches(name: str, max_len: int) -> list[np.ndarray]:
    return prepare(read_stroke3_file(DATA / f"{name}.npz", "test"), max_len)


def first_third(sketch: np.ndarray) -> np.ndarray:
    """The sketch up to the end of the first third of its strokes (at least one)."""
    lifts = np.flatnonzero(sketch[:, 2] > 0.5)
    return sketch[: lifts[max(0, len(lifts) // 3 - 1)] + 1]


def completion_lengths(decoder, encoder, info, klass, args, count=100):
    """Strokes added after the first third of ``count`` test sketches, three ways, vs the data."""
    from sketchplot.model.registry import class_index, load_any

    sketches = test_sketches(klass, info.max_seq_len)[:count]
    prefixes = [first_third(s) for s in sketches]
    strokes = lambda s: int((s[:, 2] > 0.5).sum())  # noqa: E731
    people = np.mean([strokes(s) - strokes(p) for s, p in zip(sketches, prefixes)])
    rng = np.random.default_rng(args.seed)
    ways = {
        "the partial drawing's code": lambda p: encode(encoder, [p], info.scale)[0][0],
        "a code from the prior": lambda p: rng.standard_normal(info.model.latent_size).astype(np.float32),
    }
    added = {}
    for label, code in ways.items():
        added[label] = np.mean(
            [
                strokes(
                    sample(
                        decoder,
                        1,
                        scale=info.scale,
                        temperature=0.5,
                        seed=i,
                        prefix=p,
                        max_len=info.max_seq_len,
                        z=code(p),
                    )[0]
                )
                - strokes(p)
                for i, p in enumerate(prefixes)
            ]
        )
    baseline, baseline_info = load_any(args.baseline)
    if klass in baseline_info.classes:
        index = class_index(baseline_info, klass, args.baseline)
        added[f"unconditional {Path(args.baseline).name}"] = np.mean(
            [
                strokes(
                    sample(
                        baseline,
                        1,
                        scale=baseline_info.scale,
                        temperature=0.5,
                        seed=i,
                        prefix=p,
                        class_index=index,
                        max_len=baseline_info.max_seq_len,
                    )[0]
                )
                - strokes(p)
                for i, p in enumerate(prefixes)
            ]
        )
    print(
        f"\ncompleting {count} test {klass}s cut after the first third of their strokes, T=0.5: "
        f"people drew {people:.1f} more strokes; the endings add"
    )
    for label, value in added.items():
        print(f"- {value:.1f} strokes with {label}")


def figure(cells, layers, grid, path):
    """cells: polyline lists; layers: each cell's layer per line."""
    page = plot_page(cells, paper="a4", landscape=True, margin_mm=8, gutter_mm=4, grid=grid, line_layers=layers)
    write_preview(page.document, path)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--pair", nargs=2, metavar=("A", "B"), help="classes to interpolate between")
    parser.add_argument("--temperature", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--previews", default=str(ROOT / "docs" / "models"))
    parser.add_argument(
        "--baseline",
        default=str(ROOT / "sketchplot" / "model" / "shipped" / "quickdraw345"),
        help="an unconditional model that draws the first class, for completion",
    )
    args = parser.parse_args()
    decoder, info = load_decoder(args.model)
    encoder = load_encoder(args.model)
    name, cap, t = Path(args.model).name, info.max_seq_len, args.temperature
    Path(args.previews).mkdir(parents=True, exist_ok=True)
    print(f"model: {args.model} ({', '.join(info.classes)}), latent {info.model.latent_size}\n")
    print("| class | test sketches | L_R | L_KL | NLL, own code | NLL, another sketch's code | mu spread | sigma |")
    print("|---|---|---|---|---|---|---|---|")
    labelled = info.model.n_classes == len(info.classes)
    for index, klass in enumerate(info.classes):
        path = DATA / f"{klass}.npz"
        class_index = index if labelled else 0
        own = evaluate_file(decoder, info.scale, path, class_index=class_index, max_seq_len=cap, encoder=encoder)
        other = evaluate_file(
            decoder, info.scale, path, class_index=class_index, max_seq_len=cap, encoder=AnotherSketchsCode(encoder)
        )
        mu, sigma_hat = encode(encoder, test_sketches(klass, cap), info.scale)
        print(
            f"| {klass} | {own.n_sketches} | {own.l_r:.3f} | {own.l_kl:.3f} | {own.nll:.3f} | {other.nll:.3f} "
            f"| {mu.std(0).mean():.2f} | {np.exp(sigma_hat / 2).mean():.2f} |"
        )

    first = info.classes[0]
    originals = test_sketches(first, cap)[:8]
    mu, _ = encode(encoder, originals, info.scale)
    rebuilt = sample(
        decoder, 16, scale=info.scale, temperature=t, seed=args.seed, max_len=cap, z=np.repeat(mu, 2, axis=0)
    )
    (points, strokes), (rebuilt_points, rebuilt_strokes) = counts(originals), counts(rebuilt)
    print(
        f"\nreconstructions at T={t:g} of {len(originals)} test {first}s: {rebuilt_points:.1f} points and "
        f"{rebuilt_strokes:.1f} strokes (inputs: {points:.1f} and {strokes:.1f})"
    )
    cells = [strokes_to_polylines(from_origin(s)) for s in originals]
    cells += [strokes_to_polylines(from_origin(rebuilt[2 * i + row])) for row in range(2) for i in range(8)]
    figure(
        cells,
        [[1 if k < 8 else 2] * len(c) for k, c in enumerate(cells)],
        (3, 8),
        Path(args.previews) / f"{name}-reconstructions.svg",
    )

    if args.pair:  # the two test sketches furthest apart along the line between the class means
        sources, targets = test_sketches(args.pair[0], cap), test_sketches(args.pair[1], cap)
        mu_a, mu_b = encode(encoder, sources, info.scale)[0], encode(encoder, targets, info.scale)[0]
        direction = mu_b.mean(0) - mu_a.mean(0)
        a, b = sources[np.argmin(mu_a @ direction)], targets[np.argmax(mu_b @ direction)]
    else:
        a, b = test_sketches(first, cap)[:2]
    codes = encode(encoder, [a, b], info.scale)[0]
    row = sample(
        decoder, 8, scale=info.scale, temperature=t, seed=args.seed, max_len=cap, z=interpolate(codes[0], codes[1], 8)
    )
    cells = [strokes_to_polylines(from_origin(s)) for s in [a] + row + [b]]
    figure(
        cells,
        [[1 if k in (0, 9) else 2] * len(c) for k, c in enumerate(cells)],
        (1, 10),
        Path(args.previews) / f"{name}-interpolation.svg",
    )

    completion_lengths(decoder, encoder, info, first, args)
    cells, layers = [], []
    for sketch in test_sketches(first, cap)[10:14]:
        prefix = first_third(sketch)  # codes from the prior, as `sketchplot complete` draws them
        for ending in sample(decoder, 3, scale=info.scale, temperature=0.5, seed=args.seed, max_len=cap, prefix=prefix):
            given, new = split_polylines(from_origin(ending), len(prefix) + 1)
            cells.append(given + new)
            layers.append([1] * len(given) + [2] * len(new))
    figure(cells, layers, (4, 3), Path(args.previews) / f"{name}-completions.svg")


if __name__ == "__main__":
    main()
