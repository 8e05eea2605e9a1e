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
from sketchplot.core.atomic import atomic_write_text  # noqa: E402
from sketchplot.model.config import BEST_OF  # noqa: E402
from sketchplot.model.files import CONFIG_NAME  # noqa: E402
from sketchplot.model.registry import GATED_QUALITY_METRIC, QUALITY_METRIC, shipped_model_dir  # noqa: E402

TEMPERATURE = 0.5
GATED_LABEL = f" best-of-{BEST_OF} (chosen by the judge)"  # bench/model_card.py's label of gated rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("card", type=Path, help="The JSON that bench/model_card.py or bench/class_table.py wrote.")
    parser.add_argument("--models", nargs="+", help="Record only these models' rows (default: every shipped one's).")
    args = parser.parse_args()
    card = json.loads(args.card.read_text())
    if isinstance(card, dict):  # bench/class_table.py: temperature 0.5, "plain" without the gate
        card = [
            {"temperature": TEMPERATURE, "model": model, "class": row["class"], "recognizability": row[key]}
            for row in card["rows"]
            for model, key in ((row["model"], "plain"), (row["model"] + GATED_LABEL, "gated"))
        ]
    measured: dict[str, dict[str, dict[str, float]]] = {}
    for row in card:
        model, metric = row["model"], QUALITY_METRIC
        if model.endswith(GATED_LABEL):
            model, metric = model.removesuffix(GATED_LABEL), GATED_QUALITY_METRIC
        wanted = args.models is None or model in args.models
        if wanted and row.get("temperature") == TEMPERATURE and (shipped_model_dir() / model).is_dir():
            measured.setdefault(model, {}).setdefault(metric, {})[row["class"]] = row["recognizability"]
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
