"""100 real cats (cat.npz test split) on one A3 page: pipeline time and pen-up travel.

Prints, side by side: time of layout + optimisation + G-code (target < 1 s), and pen-up
travel relative to the naive order (target <= 0.5) for no optimisation, plain vpype
``linesort`` (its CLI defaults: greedy, flips allowed) on the same laid-out page, and ours.

    python bench/bench_plot.py [--count 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import vpype as vp

from sketchplot.core.formats import read_npz
from sketchplot.core.profiles import load_profile
from sketchplot.gcode.estimate import estimate_gcode
from sketchplot.gcode.writer import write_gcode
from sketchplot.plotter.optimize import NO_OPTIMIZATION, OptimizeOptions, path_stats, vpype_linesort
from sketchplot.plotter.pipeline import plot_page

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "quickdraw" / "cat.npz"


def timed(function, repeat: int):
    """(best seconds, last result) over ``repeat`` runs."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sketches = read_npz(DATA, "test")[: args.count]
    profile = load_profile("a3-servo")

    def pipeline(options):
        def run():
            result = plot_page(sketches, paper="a3", landscape=True, optimize=options)
            return result, write_gcode(result.document, profile)

        return run

    naive_s, (naive, naive_gcode) = timed(pipeline(NO_OPTIMIZATION), args.repeat)
    ours_s, (ours, ours_gcode) = timed(pipeline(OptimizeOptions()), args.repeat)

    def plain_linesort():
        layer = naive.document.layers[1]
        document = vp.Document(page_size=naive.document.page_size)
        document.add(vpype_linesort(layer.clone(layer), no_flip=False, two_opt=False, passes=250), 1)
        return document, write_gcode(document, profile)

    sort_s, (sorted_document, sort_gcode) = timed(plain_linesort, args.repeat)
    sort_s += naive_s  # same layout and G-code work plus vpype's linesort

    base = naive.stats_after.pen_up_mm
    rows = [
        ("naive order", naive_s, naive.stats_after, naive_gcode),
        ("vpype linesort", sort_s, path_stats(sorted_document), sort_gcode),
        ("ours (merge+simplify+sort 2-opt)", ours_s, ours.stats_after, ours_gcode),
    ]
    print(f"{args.count} cats ({DATA.name} test split) on one A3 landscape page, machine {profile.name}")
    print(f"{'':34}{'time s':>8}{'pen-up mm':>11}{'/naive':>8}{'lifts':>7}{'plot time':>11}{'len/feed':>10}")
    for name, seconds, stats, gcode in rows:
        estimate = estimate_gcode(gcode, profile)
        print(
            f"{name:34}{seconds:8.3f}{stats.pen_up_mm:11.0f}{stats.pen_up_mm / base:8.3f}{stats.pen_lifts:7d}"
            f"{estimate.seconds / 60:10.1f}m{estimate.naive_seconds / 60:9.1f}m"
        )
    ratio = ours.stats_after.pen_up_mm / base
    plain = path_stats(sorted_document).pen_up_mm
    print(
        f"targets: time {ours_s:.3f} s < 1 s: {'met' if ours_s < 1 else 'MISSED'}; "
        f"travel ratio {ratio:.3f} <= 0.5: {'met' if ratio <= 0.5 else 'MISSED'}; "
        f"ours {ours.stats_after.pen_up_mm:.0f} mm vs vpype linesort {plain:.0f} mm: "
        f"{'no worse' if ours.stats_after.pen_up_mm <= plain else 'WORSE'}"
    )


if __name__ == "__main__":
    main()
