"""The whole geometry side in one call: sketches -> laid-out, optimised vpype Document.

The application layer (``sketchplot.app.pages``) builds every command's page through it, so the
same sketches give the same page whichever command drew them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import vpype as vp

from sketchplot.core.formats import strokes_to_polylines
from sketchplot.core.profiles import MachineProfile
from sketchplot.plotter.layout import layout_grid, paper_size_mm
from sketchplot.plotter.optimize import OptimizeOptions, PathStats, optimize_document, path_stats


@dataclass(frozen=True)
class PlotResult:
    """The optimised page, the page as laid out before optimisation, and their statistics."""

    document: vp.Document
    unoptimized: vp.Document
    stats_before: PathStats
    stats_after: PathStats


def as_drawing(sketch: np.ndarray | Sequence[np.ndarray], where: str) -> list[np.ndarray]:
    """A stroke-3/stroke-5 array (real, 2-D) or an already converted list of complex polylines."""
    if isinstance(sketch, np.ndarray) and sketch.ndim == 2 and not np.iscomplexobj(sketch):
        return strokes_to_polylines(sketch, where)
    return [np.asarray(line, dtype=complex) for line in sketch]


def plot_page(
    sketches: Sequence[np.ndarray | Sequence[np.ndarray]],
    *,
    paper: str = "a4",
    landscape: bool | None = True,
    margin_mm: float = 10.0,
    grid: tuple[int, int] | None = None,
    gutter_mm: float = 5.0,
    optimize: OptimizeOptions = OptimizeOptions(),
    line_layers: Sequence[Sequence[int]] | None = None,
    profile: MachineProfile | None = None,
) -> PlotResult:
    """Lay the sketches out on one page (grid chosen automatically when ``grid`` is None) and
    optimise the pen paths for ``profile``'s planner and drawing tolerance. Sketches are
    stroke-3/5 arrays or lists of complex polylines; ``line_layers`` puts lines in several
    layers (pens), see ``layout_grid``."""
    drawings = [as_drawing(sketch, f"sketch {i}") for i, sketch in enumerate(sketches)]
    document = layout_grid(
        drawings,
        page_mm=paper_size_mm(paper, landscape),
        grid=grid,
        margin_mm=margin_mm,
        gutter_mm=gutter_mm,
        line_layers=line_layers,
    )
    sketch_lines: dict[int, list[int]] = {}
    for k, drawing in enumerate(drawings):
        layers = line_layers[k] if line_layers is not None else [1] * len(drawing)
        for layer_id in sorted(set(layers)):
            sketch_lines.setdefault(layer_id, []).append(list(layers).count(layer_id))
    optimized = optimize_document(document, optimize, profile, sketch_lines)
    return PlotResult(optimized, document, path_stats(document), path_stats(optimized))
