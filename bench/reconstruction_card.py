"""How faithful a conditional (VAE) model's reconstructions, interpolations and analogies are,
judged in the feature space of the project's evaluator (the sketch classifier).

Reconstruction is exactly ``sketchplot reconstruct <class>.npz:0-99 -n 1 --temp 0.3 --seed 1``
(the same app call) on the first 100 test sketches of each class the model draws (all of
them when the test split is smaller). A
reconstruction that keeps what makes its input itself is nearer to its own input than to the
99 others, so the table reports:

- retrieval: share of reconstructions whose nearest input (Euclidean, classifier features) is
  their own input (one generic drawing for every input scores about 1 %; target >= 0.5);
- own / other distance: mean feature distance of a reconstruction to its own input and to the
  other inputs (equal when the code is ignored);
- recognisability of the inputs and of the reconstructions (target: within 0.05; for a second
  class, at least half the inputs');
- FID of the reconstructions against the inputs beside the FID of 100 other real test sketches
  (100-199; the valid split's for a class with fewer test sketches, such as pig's 45) against
  them (target: at most twice).

The same retrieval of the inputs themselves after known changes (every offset moved by
noise, turned, strokes left out) gives the scale: how close a reconstruction must come.
How far a reconstruction's pen is from its input's after 1, 3, 5, 10 and 20 points shows where
along the drawing it wanders off. Per-dimension KL of the inputs' posteriors shows how much
each latent dimension carries, and the teacher-forced offset NLL with each input's own code,
another input's and a zero code shows how much the decoder reads it when shown the true
points, over the whole drawing and by where a point lies in it (points 0-9, 10-19, 20-39, 40 on).
Interpolation (``interpolate A B --steps 8``) on a few pairs: each step's feature distance to
A and to B, its progress d(A) / (d(A) + d(B)), which should rise steadily from about 0 to 1,
and the classifier's class of the middle four steps. Writes ``<name>-<class>-reconstruction-pairs.svg``
(8 inputs in black above their reconstructions in blue: 4 retrieved, then 4 that are not) and,
for models that draw cats, ``<name>-analogies.svg``: 8 cases of (cat head A) - (cat head B) +
(full-body cat C), A, B and C in black and the result in blue, i.e. head A given C's body.

    OMP_NUM_THREADS=1 python bench/reconstruction_card.py [--model PATH ...] [--classes cat dog] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from vae_card import DATA, ROOT, figure

from sketchplot.app.sketches import Sampling, analogy, interpolate, reconstruct
from sketchplot.core.errors import SketchplotError
from sketchplot.core.formats import (
    from_origin,
    keep_strokes,
    read_input_sketches,
    read_stroke3_file,
    strokes_to_polylines,
)
from sketchplot.model.classifier import frechet_distance, load_classifier
from sketchplot.model.evaluate import score_sketches
from sketchplot.model.files import load_conditional
from sketchplot.model.latent import encode
from sketchplot.model.mixture import kl_divergence
from sketchplot.model.registry import available_models, class_index, is_labelled
from sketchplot.model.scoring import class_scores

INPUT_COUNT = 100
# Test cats picked by eye from the first 200: heads only, and full-body cats (with legs or a tail).
CAT_HEADS = (2, 8, 17, 20, 36, 42, 53, 66)
OTHER_CAT_HEADS = (3, 13, 18, 23, 24, 37, 43, 44)
FULL_BODY_CATS = (12, 22, 31, 47, 69, 100, 170, 173)
INTERPOLATION_STEPS = 8


def retrieval(rebuilt: np.ndarray, inputs: np.ndarray) -> dict:
    """Nearest-neighbour retrieval of each reconstruction's own input among all inputs
    (row i of ``rebuilt`` reconstructs row i of ``inputs``), and the distances behind it."""
    distances = np.linalg.norm(rebuilt[:, None, :] - inputs[None, :, :], axis=-1)
    own = np.diag(distances)
    others = distances[~np.eye(len(inputs), dtype=bool)]
    return {
        "retrieved": distances.argmin(axis=1) == np.arange(len(inputs)),
        "own_distance": float(own.mean()),
        "other_distance": float(others.mean()),
    }


def _jitter(sketch: np.ndarray, rng, units: float) -> np.ndarray:
    """The sketch with N(0, units) added to every offset (the errors add up along it)."""
    moved = sketch.astype(np.float32)
    moved[:, :2] += rng.normal(0.0, units, (len(sketch), 2))
    return moved


def _rotate(sketch: np.ndarray, degrees: float) -> np.ndarray:
    """The sketch turned about its start."""
    a = np.deg2rad(degrees)
    moved = sketch.astype(np.float32)
    moved[:, :2] = moved[:, :2] @ np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]], dtype=np.float32)
    return moved


def _drop_last_strokes(sketch: np.ndarray, share: float) -> np.ndarray:
    """The sketch without the last ``share`` of its strokes (rounded down; one stroke stays)."""
    strokes = int(np.sum(sketch[:, 2] == 1))
    return keep_strokes(sketch, max(1, strokes - int(strokes * share)))


# Known changes of the inputs themselves, the scale for reading a retrieval figure.
PERTURBATIONS = {
    "every offset moved by N(0, 4 units)": lambda s, rng: _jitter(s, rng, 4.0),
    "every offset moved by N(0, 8 units)": lambda s, rng: _jitter(s, rng, 8.0),
    "turned 20 degrees": lambda s, rng: _rotate(s, 20.0),
    "last quarter of the strokes left out": lambda s, rng: _drop_last_strokes(s, 0.25),
    "last half of the strokes left out": lambda s, rng: _drop_last_strokes(s, 0.5),
    "first 40 points only": lambda s, rng: s[:40],
    "first 20 points only": lambda s, rng: s[:20],
}


def retrieval_of_changed_inputs(inputs: list[np.ndarray], classifier) -> dict:
    """Retrieval of the inputs themselves, changed in known ways: how close a reconstruction
    must come to its input for the judge's features to find it (the offsets are in the
    data's units, in which a sketch spans about 255)."""
    features = classifier.predict(inputs).features
    rng = np.random.default_rng(0)
    return {
        name: float(
            retrieval(classifier.predict([change(s, rng) for s in inputs]).features, features)["retrieved"].mean()
        )
        for name, change in PERTURBATIONS.items()
    }


def latent_usage(mu: np.ndarray, sigma_hat: np.ndarray) -> dict:
    """KL of the posteriors per latent dimension (mean over the sketches), the spread of the
    codes' means and the posterior sigma: what the code can tell the decoder."""
    per_dimension = kl_divergence(mu[..., None], sigma_hat[..., None]).mean(axis=0)
    return {
        "kl_per_dim_mean": float(per_dimension.mean()),
        "kl_per_dim_min": float(per_dimension.min()),
        "kl_per_dim_max": float(per_dimension.max()),
        "kl_total": float(per_dimension.sum()),
        "mu_spread": float(mu.std(axis=0).mean()),
        "sigma": float(np.exp(sigma_hat / 2).mean()),
    }


# Where along a drawing the code matters: point ranges of the teacher-forced offset NLL.
POSITION_RANGES = ((0, 10), (10, 20), (20, 40), (40, None))


def code_reliance(decoder, info, klass: str, sketches: list[np.ndarray], mu: np.ndarray) -> dict:
    """How much the decoder reads the code when it is shown the true points before each one
    (teacher forcing, as in training): the mean offset NLL per point given each sketch's own
    posterior mean, another sketch's, and a zero code, over the whole drawing and by point
    range (``POSITION_RANGES``). A large gap with free-running reconstructions that still
    drift means the decoder follows its own strokes over z (``mu``: the sketches' posterior
    means); a gap that closes after the first points means z only starts the drawing."""
    index = class_index(info, klass, "the model") if is_labelled(info) and len(info.classes) > 1 else 0

    def offset_nll_sum(codes: np.ndarray, points: int | None) -> tuple[float, int]:
        """Summed offset NLL and count of each sketch's first ``points`` points: the decoder is
        causal, so a sketch cut short scores its first points exactly as the whole one does."""
        scored = score_sketches(
            decoder,
            [sketch[:points] for sketch in sketches],
            class_index=index,
            input_scale=info.scale,
            unit_scale=info.scale,
            max_seq_len=info.max_seq_len,
            codes=codes,
        )
        return scored.offset_nll * scored.n_points, scored.n_points

    codes = {"own_code": mu, "other_code": np.roll(mu, 1, axis=0), "zero_code": 0 * mu}
    ends = sorted({last for _, last in POSITION_RANGES if last}) + [None]
    report: dict = {}
    for name, code in codes.items():
        cut = {0: (0.0, 0)} | {points: offset_nll_sum(code, points) for points in ends}
        total, count = cut[None]
        report[name] = round(total / count, 3)
        report[f"{name}_by_range"] = [
            round((cut[last][0] - cut[first][0]) / (cut[last][1] - cut[first][1]), 3)
            if cut[last][1] > cut[first][1]
            else None
            for first, last in POSITION_RANGES
        ]
    return report


# After how many points the pen of a reconstruction is compared with its input's.
DRIFT_POINTS = (1, 3, 5, 10, 20)


def pen_drift(rebuilt: list[np.ndarray], inputs: list[np.ndarray]) -> dict:
    """Median distance (data units) between a reconstruction's pen after k points and its own
    input's, and another input's (the next one): where along the drawing it wanders off. Each
    median is over the pairs that both have k points."""

    def median_distance(pairs, k):
        gaps = [np.linalg.norm(a[:k, :2].sum(0) - b[:k, :2].sum(0)) for a, b in pairs if min(len(a), len(b)) >= k]
        return round(float(np.median(gaps)), 1) if gaps else None

    others = inputs[1:] + inputs[:1]
    return {
        "points": list(DRIFT_POINTS),
        "own_input": [median_distance(zip(rebuilt, inputs), k) for k in DRIFT_POINTS],
        "other_input": [median_distance(zip(rebuilt, others), k) for k in DRIFT_POINTS],
    }


def real_sets(path: Path) -> tuple[str, str, str]:
    """The input spec (the first 100 test sketches, or all of a smaller split) and the spec and
    split of as many other real sketches: the next test sketches, or the valid split's first."""
    count = len(read_stroke3_file(path, "test"))
    n = min(INPUT_COUNT, count)
    if count >= 2 * n:
        return f"{path}:0-{n - 1}", f"{path}:{n}-{2 * n - 1}", "test"
    return f"{path}:0-{n - 1}", f"{path}:0-{min(n, len(read_stroke3_file(path, 'valid'))) - 1}", "valid"


def reconstruction_report(model: Path, klass: str, how: Sampling, classifier) -> tuple[dict, list, list, np.ndarray]:
    """The numbers of one class through one model, with the inputs and their reconstructions."""
    inputs_spec, others_spec, others_split = real_sets(DATA / f"{klass}.npz")
    inputs, _ = read_input_sketches(inputs_spec, "test")
    others, _ = read_input_sketches(others_spec, others_split)
    rebuilt = reconstruct(inputs_spec, 1, how, "test").strokes
    seen = {name: classifier.predict(s) for name, s in (("inputs", inputs), ("rebuilt", rebuilt), ("others", others))}
    target = classifier.class_index(klass)
    recognised = {name: class_scores(p.probabilities, target, classifier.classes) for name, p in seen.items()}
    found = retrieval(seen["rebuilt"].features, seen["inputs"].features)
    decoder, encoder, info = load_conditional(model)
    mu, sigma_hat = encode(encoder, inputs, info.scale)
    report = {
        "model": model_label(model),
        "class": klass,
        "n": len(inputs),
        "retrieval": float(found["retrieved"].mean()),
        "own_distance": round(found["own_distance"], 2),
        "other_distance": round(found["other_distance"], 2),
        "rec_inputs": recognised["inputs"]["recognizability"],
        "rec_rebuilt": recognised["rebuilt"]["recognizability"],
        "rebuilt_confused_with": recognised["rebuilt"]["confused_with"],
        "fid_rebuilt": round(frechet_distance(seen["rebuilt"].features, seen["inputs"].features), 2),
        "fid_other_real": round(frechet_distance(seen["others"].features, seen["inputs"].features), 2),
        "latent": latent_usage(mu, sigma_hat),
        "pen_drift": pen_drift(rebuilt, inputs),
        "teacher_forced_offset_nll": code_reliance(decoder, info, klass, inputs, mu),
    }
    return report, inputs, rebuilt, found["retrieved"]


def interpolation_report(model: Path, first: str, second: str, how: Sampling, classifier) -> dict:
    """Feature distance of each step of ``interpolate first second`` to A and to B, and the
    classifier's class of the middle steps."""
    row = interpolate(first, second, INTERPOLATION_STEPS, how, "test").strokes
    ends, _ = read_input_sketches(first, "test")
    ends += read_input_sketches(second, "test")[0]
    steps, anchors = classifier.predict(row), classifier.predict(ends).features
    to_a, to_b = (np.linalg.norm(steps.features - anchor, axis=1) for anchor in anchors)
    middle = steps.probabilities[2:-2].argmax(axis=1)
    progress = to_a / (to_a + to_b)
    return {
        "model": model_label(model),
        "a": Path(first).name,
        "b": Path(second).name,
        "to_a": [round(float(d), 1) for d in to_a],
        "to_b": [round(float(d), 1) for d in to_b],
        "progress": [round(float(p), 2) for p in progress],
        "rising_steps": int(np.sum(np.diff(progress) > 0)),
        "middle_classes": [classifier.classes[k] for k in middle],
    }


def interpolation_pairs(classes: list[str]) -> list[tuple[str, str]]:
    """Cat heads to full-body cats, and for a model of two classes the first class's test
    sketches to the second's."""
    cat = DATA / "cat.npz"
    pairs = (
        [(f"{cat}:{h}", f"{cat}:{b}") for h, b in zip(CAT_HEADS[:3], FULL_BODY_CATS[:3])] if "cat" in classes else []
    )
    if len(classes) > 1:
        a, b = DATA / f"{classes[0]}.npz", DATA / f"{classes[1]}.npz"
        pairs += [(f"{a}:{i}", f"{b}:{i}") for i in range(3)]
    return pairs


def model_label(model: Path) -> str:
    """A model's name: its folder's, or the run's for a training run's ``best``."""
    return model.parent.name if model.name == "best" else model.name


def cells_of(sketches: list[np.ndarray]) -> list[list[complex]]:
    return [strokes_to_polylines(from_origin(s)) for s in sketches]


def pairs_figure(inputs: list, rebuilt: list, retrieved: np.ndarray, path: Path) -> None:
    """8 inputs above their reconstructions: the first 4 retrieved, then the first 4 not."""
    kept, lost = list(np.flatnonzero(retrieved)), list(np.flatnonzero(~retrieved))
    chosen = kept[:4] + lost[:4]
    chosen += [i for i in range(len(inputs)) if i not in chosen][: 8 - len(chosen)]
    cells = cells_of([inputs[i] for i in chosen]) + cells_of([rebuilt[i] for i in chosen])
    figure(cells, [[1 if k < 8 else 2] * len(c) for k, c in enumerate(cells)], (2, 8), path)


def analogy_figure(model: Path, how: Sampling, classifier, path: Path) -> list[dict]:
    """8 analogies head A - head B + full-body C, two cases a row; each result's feature
    distance to A, B and C."""
    cat = DATA / "cat.npz"
    cells, layers, distances = [], [], []
    for a, b, c in zip(CAT_HEADS, OTHER_CAT_HEADS, FULL_BODY_CATS):
        specs = [f"{cat}:{i}" for i in (a, b, c)]
        result = analogy(*specs, 1, how, "test").strokes
        given = [read_input_sketches(spec, "test")[0][0] for spec in specs]
        features = classifier.predict(given + result).features
        distances.append(
            {"case": f"{a} - {b} + {c}"}
            | {k: round(float(np.linalg.norm(features[3] - features[j])), 1) for j, k in enumerate("abc")}
        )
        for k, cell in enumerate(cells_of(given + result)):
            cells.append(cell)
            layers.append([1 if k < 3 else 2] * len(cell))
    figure(cells, layers, (4, 8), path)
    return distances


def table(reports: list[dict]) -> str:
    lines = [
        "| model | class | n | retrieval | own / other distance | rec. inputs | rec. reconstructions "
        "| FID reconstructions | FID other real | KL per dim (min / mean / max) | mu spread | sigma "
        "| offset NLL, own / other / zero code |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        latent, nll = r["latent"], r["teacher_forced_offset_nll"]
        lines.append(
            f"| {r['model']} | {r['class']} | {r['n']} | {r['retrieval']:.2f} | {r['own_distance']:.1f} / {r['other_distance']:.1f} "
            f"| {r['rec_inputs']:.2f} | {r['rec_rebuilt']:.2f} | {r['fid_rebuilt']:.1f} | {r['fid_other_real']:.1f} "
            f"| {latent['kl_per_dim_min']:.2f} / {latent['kl_per_dim_mean']:.2f} / {latent['kl_per_dim_max']:.2f} "
            f"| {latent['mu_spread']:.2f} | {latent['sigma']:.2f} "
            f"| {nll['own_code']:.2f} / {nll['other_code']:.2f} / {nll['zero_code']:.2f} |"
        )
    return "\n".join(lines)


def position_table(reports: list[dict]) -> str:
    """The teacher-forced offset NLL by point range, with each code."""
    ranges = [f"points {a}-{b - 1}" if b else f"points {a}+" for a, b in POSITION_RANGES]
    lines = ["| model | class | code | " + " | ".join(ranges) + " |", "|---|---|---|" + "---|" * len(ranges)]
    for r in reports:
        nll = r["teacher_forced_offset_nll"]
        for code in ("own_code", "other_code", "zero_code"):
            cells = " | ".join("-" if v is None else f"{v:.2f}" for v in nll[f"{code}_by_range"])
            lines.append(f"| {r['model']} | {r['class']} | {code.replace('_', ' ')} | {cells} |")
    return "\n".join(lines)


def interpolation_table(rows: list[dict]) -> str:
    lines = [
        "| model | A | B | progress d(A) / (d(A) + d(B)) by step | rising steps | middle four recognised as |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        progress = " ".join(f"{p:.2f}" for p in r["progress"])
        lines.append(
            f"| {r['model']} | {r['a']} | {r['b']} | {progress} | {r['rising_steps']} / {INTERPOLATION_STEPS - 1} "
            f"| {', '.join(r['middle_classes'])} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="a conditional model (default: every shipped one)")
    parser.add_argument("--classes", nargs="+", help="only these of each model's classes (default: all)")
    parser.add_argument("--temperature", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--previews", default=str(ROOT / "docs" / "models"))
    parser.add_argument("--json", help="also write every number here")
    args = parser.parse_args()
    shipped = [e.path for e in available_models() if e.origin == "shipped" and e.info and e.info.model.conditional]
    models = [Path(m) for m in args.model] if args.model else shipped
    classifier = load_classifier()
    previews = Path(args.previews)
    previews.mkdir(parents=True, exist_ok=True)
    reports, interpolations, analogies, changed_inputs = [], [], {}, {}
    for model in models:
        how = Sampling(temperature=args.temperature, seed=args.seed, model=str(model))
        _, _, info = load_conditional(model)
        label = model_label(model)
        chosen = []
        for klass in (c for c in info.classes if args.classes is None or c in args.classes):
            try:
                report, inputs, rebuilt, retrieved = reconstruction_report(model, klass, how, classifier)
            except SketchplotError as error:  # a test sketch longer than the encoder reads
                print(f"{label}, {klass}: skipped: {error}", flush=True)
                continue
            chosen.append(klass)
            if klass not in changed_inputs:
                changed_inputs[klass] = retrieval_of_changed_inputs(inputs, classifier)
            reports.append(report)
            pairs_figure(inputs, rebuilt, retrieved, previews / f"{label}-{klass}-reconstruction-pairs.svg")
        for first, second in interpolation_pairs(chosen):
            interpolations.append(interpolation_report(model, first, second, how, classifier))
        if "cat" in chosen:
            analogies[label] = analogy_figure(model, how, classifier, previews / f"{label}-analogies.svg")
    print(f"\nreconstructions at T={args.temperature:g}, seed {args.seed}, of the first {INPUT_COUNT} test sketches\n")
    print(table(reports))
    for klass, scale in changed_inputs.items():
        print(f"\nretrieval of the first {INPUT_COUNT} (or all) test {klass} sketches themselves, changed:")
        print("\n".join(f"- {name}: {share:.2f}" for name, share in scale.items()))
    print(f"\nmedian distance of a reconstruction's pen from its own input's / another's after {DRIFT_POINTS} points\n")
    for r in reports:
        drift = r["pen_drift"]
        cells = ", ".join(f"{a} / {b}" for a, b in zip(drift["own_input"], drift["other_input"]))
        print(f"- {r['model']}, {r['class']}: {cells}")
    print("\nteacher-forced offset NLL per point, by where the point is in the drawing\n")
    print(position_table(reports))
    print(f"\ninterpolations, {INTERPOLATION_STEPS} steps\n")
    print(interpolation_table(interpolations))
    for name, cases in analogies.items():
        print(f"\n{name} analogies, feature distance of A - B + C to A / B / C: ")
        print(", ".join(f"{d['case']}: {d['a']} / {d['b']} / {d['c']}" for d in cases))
    if args.json:
        everything = {
            "reconstruction": reports,
            "retrieval_of_changed_inputs": changed_inputs,
            "interpolation": interpolations,
            "analogy": analogies,
        }
        Path(args.json).write_text(json.dumps(everything, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
