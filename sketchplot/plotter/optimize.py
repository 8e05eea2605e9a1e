"""Pen-path optimisation with vpype's own operations, and the statistics that judge it.

All geometry is in vpype's unit (CSS px); tolerances are given in mm and converted here.
Order of the passes: linemerge (fewer pen lifts), reloop, linesimplify (fewer segments),
then linesort last so that it sees the final start and end point of every path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import vpype as vp
from vpype_cli.operations import linesort as _linesort_command

from sketchplot.core.errors import SketchplotError

PX_PER_MM = vp.convert_length("mm")

# vpype-cli's ``linesort`` command body (greedy nearest-neighbour + optional two-opt), without
# the click/layer plumbing around it: reusing it keeps our result identical to vpype's.
vpype_linesort = _linesort_command.callback.__wrapped__


@dataclass(frozen=True)
class OptimizeOptions:
    """Which vpype passes to run, with tolerances in mm (vpype's defaults are 0.05 mm)."""

    linemerge: bool = True
    merge_tolerance_mm: float = 0.1
    merge_flip: bool = True
    reloop: bool = False  # random seams on closed paths: a visual choice, not a travel saving
    reloop_tolerance_mm: float = 0.05
    linesimplify: bool = True
    simplify_tolerance_mm: float = 0.05
    linesort: bool = True
    sort_flip: bool = True
    two_opt: bool = True
    two_opt_passes: int = 250

    def __post_init__(self):
        for name in ("merge_tolerance_mm", "reloop_tolerance_mm", "simplify_tolerance_mm"):
            if not 0 <= getattr(self, name) < math.inf:  # NaN fails too
                raise SketchplotError(f"optimisation tolerance {name} must be finite and not negative")
        if self.two_opt_passes < 1:
            raise SketchplotError("two-opt passes must be at least 1")


NO_OPTIMIZATION = OptimizeOptions(linemerge=False, reloop=False, linesimplify=False, linesort=False)


@dataclass(frozen=True)
class PathStats:
    """What a plot costs: ink length, pen-up travel between paths, and pen lifts (= paths)."""

    pen_down_mm: float
    pen_up_mm: float
    pen_lifts: int
    segments: int

    def describe(self) -> str:
        return (
            f"pen down {self.pen_down_mm:.0f} mm, pen up {self.pen_up_mm:.0f} mm, "
            f"{self.pen_lifts} pen lifts, {self.segments} segments"
        )


def path_stats(document: vp.Document) -> PathStats:
    """Statistics of a document, layers plotted in id order; travel counted as vpype does
    (from each path's end to the next path's start, including from one layer to the next)."""
    lines = [line for layer_id in sorted(document.layers) for line in document.layers[layer_id].lines]
    pen_down = sum(float(np.abs(np.diff(line)).sum()) for line in lines)
    if len(lines) > 1:
        ends = np.array([line[-1] for line in lines[:-1]])
        starts = np.array([line[0] for line in lines[1:]])
        pen_up = float(np.abs(starts - ends).sum())
    else:
        pen_up = 0.0
    segments = sum(len(line) - 1 for line in lines)
    return PathStats(pen_down / PX_PER_MM, pen_up / PX_PER_MM, len(lines), segments)


def simplify_lines(lines: vp.LineCollection, tolerance_px: float) -> vp.LineCollection:
    """vpype's linesimplify (shapely Douglas-Peucker, preserve_topology=False) applied to the
    lines with three or more points; two-point lines and dots are kept as they are, since
    shapely cannot build a MultiLineString from zero-length pieces."""
    long_lines = vp.LineCollection([line for line in lines.lines if len(line) > 2])
    if len(long_lines):
        mls = long_lines.as_mls().simplify(tolerance=tolerance_px, preserve_topology=False)
        long_lines = vp.LineCollection(mls)
    result = lines.clone()
    result.extend(long_lines)
    result.extend([line for line in lines.lines if len(line) <= 2])
    return result


def optimize_lines(lines: vp.LineCollection, options: OptimizeOptions) -> vp.LineCollection:
    """One layer through the enabled vpype passes; returns a new LineCollection."""
    result = lines.clone(lines)
    if options.linemerge:
        result.merge(tolerance=options.merge_tolerance_mm * PX_PER_MM, flip=options.merge_flip)
    if options.reloop:
        result.reloop(tolerance=options.reloop_tolerance_mm * PX_PER_MM)
    if options.linesimplify:
        result = simplify_lines(result, options.simplify_tolerance_mm * PX_PER_MM)
    if options.linesort:
        result = vpype_linesort(
            result, no_flip=not options.sort_flip, two_opt=options.two_opt, passes=options.two_opt_passes
        )
    return result


def optimize_document(document: vp.Document, options: OptimizeOptions) -> vp.Document:
    """A copy of the document with every layer optimised; page size and metadata kept."""
    optimized = document.clone()
    for layer_id in document.layers:
        optimized.add(optimize_lines(document.layers[layer_id], options), layer_id, with_metadata=True)
    return optimized
