"""A training checkpoint small enough to keep in the repository, so a multi-session run survives
a fresh machine (``sketchplot.model.train.compact_checkpoint``: bfloat16 weights and moments).

    python bench/compact_checkpoint.py runs/q345/checkpoint.pt checkpoints/quickdraw345.pt
    # later, on any machine: mkdir -p runs/q345 && cp checkpoints/quickdraw345.pt runs/q345/checkpoint.pt
    # then the same training command with --resume
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sketchplot.model.train import compact_checkpoint  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    step = compact_checkpoint(args.checkpoint, args.out)
    before, after = args.checkpoint.stat().st_size, args.out.stat().st_size
    print(f"step {step}: {before / 2**20:.1f} MB -> {after / 2**20:.1f} MB, {args.out}")


if __name__ == "__main__":
    main()
