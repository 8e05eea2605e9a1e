"""Write the model card's recognisability (temperature 0.5, default pen temperature, no quality
gate) into each shipped model's config.json, where the registry reads it to pick, for every
class, the shipped model whose samples people are most likely to recognise.

    python bench/model_card.py --json docs/models/model_card.json
    python bench/record_quality.py docs/models/model_card.json

or the per-class table's ``plain`` figures (the same sampling) for a model of many classes:

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
from sketchplot.model.files import CONFIG_NAME  # noqa: E402
from sketchplot.model.registry import QUALITY_METRIC, shipped_model_dir  # noqa: E402

TEMPERATURE = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("card", type=Path, help="The JSON that bench/model_card.py or bench/class_table.py wrote.")
    parser.add_argument("--models", nargs="+", help="Record only these models' rows (default: every shipped one's).")
    args = parser.parse_args()
    card = json.loads(args.card.read_text())
    if isinstance(card, dict):  # bench/class_table.py: temperature 0.5, "plain" is without the gate
        card = [{"temperature": TEMPERATURE, "recognizability": row["plain"], **row} for row in card["rows"]]
    measured: dict[str, dict[str, float]] = {}
    for row in card:
        wanted = args.models is None or row["model"] in args.models
        if wanted and row.get("temperature") == TEMPERATURE and (shipped_model_dir() / row["model"]).is_dir():
            measured.setdefault(row["model"], {})[row["class"]] = row["recognizability"]
    if args.models and set(args.models) - set(measured):
        sys.exit(f"{args.card}: no rows of {', '.join(sorted(set(args.models) - set(measured)))} at T={TEMPERATURE:g}")
    for model, per_class in sorted(measured.items()):
        path = shipped_model_dir() / model / CONFIG_NAME
        config = json.loads(path.read_text())
        config.setdefault("metrics", {}).setdefault(QUALITY_METRIC, {}).update(per_class)  # other classes kept
        atomic_write_text(path, json.dumps(config, indent=2) + "\n")
        print(f"{model}: {per_class}")


if __name__ == "__main__":
    main()
