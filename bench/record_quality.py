"""Write the model card's recognisability (temperature 0.5, default pen temperature) with and
without the quality gate into each shipped model's config.json, where the registry reads it
to pick, for every class, the shipped model whose drawings people are most likely to
recognise (with the gate, as `draw` draws them; then without it).

    python bench/model_card.py --best-of 4 --json docs/models/model_card.json
    python bench/record_quality.py docs/models/model_card.json

or the per-class table's ``gated`` and ``plain`` figures (the same sampling) for a model of
many classes:

    python bench/class_table.py --json classes.json
    python bench/record_quality.py classes.json --models quickdraw345
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model_card import gated_label  # noqa: E402  (bench/, first on a script's path)

from sketchplot.core.atomic import atomic_write_text  # noqa: E402
from sketchplot.model.config import BEST_OF  # noqa: E402
from sketchplot.model.files import CONFIG_NAME  # noqa: E402
from sketchplot.model.registry import GATED_QUALITY_METRIC, QUALITY_METRIC, shipped_model_dir  # noqa: E402

TEMPERATURE = 0.5
GATED_SUFFIX = gated_label("", BEST_OF)  # what bench/model_card.py adds to a gated row's model


def figures(card: list | dict) -> list[tuple[str, str, str, float]]:
    """(model, metric, class, share recognised) at T = 0.5 from either bench's JSON."""
    if isinstance(card, dict):  # bench/class_table.py, all at T = 0.5: "plain" without the gate
        pairs = ((QUALITY_METRIC, "plain"), (GATED_QUALITY_METRIC, "gated"))
        return [(row["model"], metric, row["class"], row[key]) for row in card["rows"] for metric, key in pairs]
    found = []
    for row in card:
        if row.get("temperature") == TEMPERATURE:
            model, metric = row["model"], QUALITY_METRIC
            if model.endswith(GATED_SUFFIX):
                model, metric = model.removesuffix(GATED_SUFFIX), GATED_QUALITY_METRIC
            found.append((model, metric, row["class"], row["recognizability"]))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("card", type=Path, help="The JSON that bench/model_card.py or bench/class_table.py wrote.")
    parser.add_argument("--models", nargs="+", help="Record only these models' rows (default: every shipped one's).")
    args = parser.parse_args()
    measured: dict[str, dict[str, dict[str, float]]] = {}
    for model, metric, name, share in figures(json.loads(args.card.read_text())):
        if (args.models is None or model in args.models) and (shipped_model_dir() / model).is_dir():
            measured.setdefault(model, {}).setdefault(metric, {})[name] = share
    if args.models and set(args.models) - set(measured):
        sys.exit(f"{args.card}: no rows of {', '.join(sorted(set(args.models) - set(measured)))} at T={TEMPERATURE:g}")
    for model, per_metric in sorted(measured.items()):
        path = shipped_model_dir() / model / CONFIG_NAME
        config = json.loads(path.read_text())
        for metric, per_class in per_metric.items():  # other classes kept
            config.setdefault("metrics", {}).setdefault(metric, {}).update(per_class)
        atomic_write_text(path, json.dumps(config, indent=2) + "\n")
        print(f"{model}: {per_metric}")


if __name__ == "__main__":
    main()
