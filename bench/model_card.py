"""The model card's quality table: for every shipped model and class, what the evaluator says
of its samples at temperatures 0.25, 0.5 and 1.0, beside the real test drawings and Google's
Sketch-RNN models (../shared/data/pretrained, sampled through our Magenta loader with their own
rule: the pen cooled with the same temperature), and the test NLL.

    python bench/model_card.py [--n 500] [--classes cat dog] [--json docs/models/model_card.json] [--extra runs/X/best]

Each row: recognisability / top-5 / FID / KID against the class's real test drawings, mean
points and strokes, share at the length cap. The real row scores the test drawings themselves,
with the FID and KID of the valid split's drawings against them (real against real). Seeds are fixed, so a rerun prints the same table.
With ``--best-of K`` (default: what `draw` uses) each of our models also gets gated rows, the most
recognisable of K candidates per sketch. It also writes ``docs/models/<class>.svg``: the first 16
samples at temperature 0.5 of the model `sketchplot draw <class>` picks, as `draw` draws them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sketchplot.core.errors import SketchplotError  # noqa: E402
from sketchplot.core.formats import from_origin, read_sketch_file  # noqa: E402
from sketchplot.model.classifier import load_classifier  # noqa: E402
from sketchplot.model.config import BEST_OF, PEN_TEMPERATURE  # noqa: E402
from sketchplot.model.evaluate import evaluate_file  # noqa: E402
from sketchplot.model.files import read_info  # noqa: E402
from sketchplot.model.registry import available_models, class_index, is_labelled, load_any, locate  # noqa: E402
from sketchplot.model.sample import sample  # noqa: E402
from sketchplot.model.scoring import sample_best_of, score  # noqa: E402
from sketchplot.plotter.pipeline import plot_page  # noqa: E402
from sketchplot.plotter.preview import write_preview  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
TEMPERATURES = (0.25, 0.5, 1.0)
SEED = 0


def gated_label(model: str, best_of: int) -> str:
    """A row's model name when the quality gate chose among ``best_of`` candidates."""
    return f"{model} best-of-{best_of} (chosen by the judge)"


def sources(classes: list[str] | None, shipped: list[str] | None, extra: Sequence[Path] = ()):
    """(label, model path, class, index, pen rule) for every shipped model (those named in
    ``shipped``, when given) and class, and for the ``extra`` model folders (labelled by their
    path), then Google's models for the same classes."""
    entries = [
        (e.name, e.path, e.info)
        for e in available_models()
        if e.origin == "shipped" and e.info is not None and (shipped is None or e.name in shipped)
    ]
    entries += [(str(path), path, read_info(path)) for path in extra]
    rows = []
    for label, path, info in entries:
        if not is_labelled(info):  # its prior mixes its classes: no per-class figure means anything
            print(f"{label}: its classes share one prior, no per-class figures", file=sys.stderr)
            continue
        for name in info.classes:
            if classes is None or name in classes:
                rows.append((label, path, name, class_index(info, name, label), "ours"))
    for name in sorted({r[2] for r in rows}):
        google = SHARED / "pretrained" / f"{name}.gen.json"
        if google.exists():
            rows.append(("google", google, name, 0, "sketch-rnn"))
    return rows


def drawn_by(class_name: str) -> Path | None:
    """The model `sketchplot draw CLASS` picks, or None when no model draws it on request."""
    try:
        return locate(class_name)
    except SketchplotError:
        return None


def compact_table(rows: list[dict]) -> str:
    """One line per class and model: recognisability / FID at each temperature, then points,
    strokes and the share at the length cap at 0.5, and the test NLL."""
    temperatures = sorted({r["temperature"] for r in rows if r["temperature"] is not None})
    head = " | ".join(f"T={t:g} rec / FID" for t in temperatures)
    lines = [
        f"| class | model | {head} | points, strokes, at cap (T=0.5) | test NLL |",
        "|---|---|" + "---|" * len(temperatures) + "---|---|",
    ]
    groups: dict[tuple[str, str], dict] = {}
    for r in rows:
        groups.setdefault((r["class"], r["model"]), {})[r["temperature"]] = r
    rank = {"real test drawings": 0, "google": 2}
    for (name, model), by_t in sorted(groups.items(), key=lambda g: (g[0][0], rank.get(g[0][1], 1), g[0][1])):
        if None in by_t:  # the real drawings: one measurement, shown in every column
            r = by_t[None]
            cells = [f"{r['recognizability']:.2f} / {r['fid']:.1f}"] * len(temperatures)
            counts = f"{r['points_mean']:.0f}, {r['strokes_mean']:.1f}"
            nll = ""
        else:
            cells = [
                f"{by_t[t]['recognizability']:.2f} / {by_t[t]['fid']:.1f}" if t in by_t else "" for t in temperatures
            ]
            mid = by_t.get(0.5) or next(iter(by_t.values()))
            at_cap = "" if mid.get("at_cap") is None else f", {mid['at_cap']:.2f}"
            counts = f"{mid['points_mean']:.0f}, {mid['strokes_mean']:.1f}{at_cap}"
            nll = "" if mid.get("nll") is None else f"{mid['nll']:.3f}"
        lines.append(f"| {name} | {model} | {' | '.join(cells)} | {counts} | {nll} |")
    return "\n".join(lines)


def full_table(rows: list[dict]) -> str:
    lines = [
        "| class | model | T | rec | top-5 | FID | KID | points | strokes | at cap | test NLL |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        temperature = "" if r["temperature"] is None else f"{r['temperature']:g}"
        at_cap = "" if r.get("at_cap") is None else f"{r['at_cap']:.3f}"
        nll = "" if r.get("nll") is None else f"{r['nll']:.3f}"
        lines.append(
            f"| {r['class']} | {r['model']} | {temperature} | {r['recognizability']:.2f} | {r['top5']:.2f} | "
            f"{r['fid']:.1f} | {r['kid']:.3f} | {r['points_mean']:.1f} | {r['strokes_mean']:.1f} | {at_cap} | {nll} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--classes", nargs="*")
    parser.add_argument("--temperatures", nargs="*", type=float, default=list(TEMPERATURES))
    parser.add_argument("--json", type=Path, help="Also write every report here.")
    parser.add_argument("--no-nll", action="store_true", help="Skip the test NLL column.")
    parser.add_argument(
        "--best-of",
        type=int,
        default=BEST_OF,
        help="Also rows for our models with the quality gate keeping the best of K candidates (1: none).",
    )
    parser.add_argument("--models", nargs="*", help="Only these shipped models (none: a bare --models) and Google's.")
    parser.add_argument("--extra", nargs="*", type=Path, default=[], help="Also these model folders (a run's best).")
    parser.add_argument("--no-google", action="store_true", help="Leave out Google's models.")
    parser.add_argument("--no-previews", action="store_true", help="Write no <class>.svg.")
    parser.add_argument("--previews", type=Path, default=ROOT / "docs" / "models", help="Folder for <class>.svg.")
    args = parser.parse_args()

    classifier = load_classifier()
    rows, real, previewed = [], {}, set()
    started = time.time()
    for label, path, name, index, rule in sources(args.classes, args.models, args.extra):
        if args.no_google and rule != "ours":
            continue
        data = SHARED / "quickdraw" / f"{name}.npz"
        if name not in real:
            real[name] = read_sketch_file(data, "test").sketches
            # The floor to compare with: the test drawings' own recognisability, and the FID of
            # other real drawings of the class (the valid split) against the test drawings.
            report = score(real[name][: args.n], name, classifier=classifier)
            other = score(read_sketch_file(data, "valid").sketches[: args.n], name, real[name], classifier=classifier)
            report |= {"fid": other["fid"], "kid": other["kid"]}
            rows.append({"model": "real test drawings", "class": name, "temperature": None, **report})
        decoder, info = load_any(path)
        nll = None
        if not args.no_nll and not getattr(info.model, "conditional", False):
            model_scale = None if rule == "sketch-rnn" else info.scale
            nll = round(evaluate_file(decoder, model_scale, data, class_index=index).nll, 3)
        for temperature in args.temperatures:
            pen = temperature if rule == "sketch-rnn" else PEN_TEMPERATURE
            sampling = dict(
                scale=info.scale,
                temperature=temperature,
                seed=SEED,
                class_index=index,
                max_len=info.max_seq_len,
                pen_temperature=pen,
            )
            drawn = sample(decoder, args.n, **sampling)
            report = score(drawn, name, real[name], cap=info.max_seq_len, classifier=classifier)
            rows.append({"model": label, "class": name, "temperature": temperature, "nll": nll, **report})
            if rule == "ours" and args.best_of > 1:
                drawn = sample_best_of(decoder, args.n, args.best_of, name, **sampling)
                report = score(drawn, name, real[name], cap=info.max_seq_len, classifier=classifier)
                rows.append(
                    {
                        "model": gated_label(label, args.best_of),
                        "class": name,
                        "temperature": temperature,
                        "nll": nll,
                        **report,
                    }
                )
            drawn_by_default = rule == "ours" and drawn_by(name) == Path(path)
            if temperature == 0.5 and drawn_by_default and name not in previewed and not args.no_previews:
                previewed.add(name)
                args.previews.mkdir(parents=True, exist_ok=True)
                page = plot_page([from_origin(s) for s in drawn[:16] if len(s)])
                write_preview(page.document, args.previews / f"{name}.svg")
            print(
                f"{label:<12} {name:<10} T={temperature:<4} rec {report['recognizability']:.2f} "
                f"FID {report['fid']:6.2f} ({time.time() - started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    print(compact_table(rows))
    print("\n" + full_table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    print(
        f"\n{args.n} samples per row, seed {SEED}; real row: the first {args.n} test drawings, FID and KID "
        f"of the valid split against the test split ({time.time() - started:.0f} s)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
