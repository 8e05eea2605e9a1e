"""Put drawings on paper: a vpype Document in CSS pixels (vpype's unit), page size set.

Page coordinates: origin at the paper's top-left corner, y down, like the drawings, so
placing a drawing is a scale and a translation, never a flip.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import vpype as vp

from sketchplot.core.errors import SketchplotError

PX_PER_MM = vp.convert_length("mm")
PAPER_NAMES = tuple(name for name in vp.PAGE_SIZES if name != "tight")


class LayoutError(SketchplotError):
    """A paper, grid or margin that leaves no room for the drawings."""


def polylines_extent(polylines: list[np.ndarray]) -> tuple[float, float, float, float]:
    """(xmin, ymin, xmax, ymax) of a drawing."""
    allpoints = np.concatenate(polylines)
    return (
        float(allpoints.real.min()),
        float(allpoints.imag.min()),
        float(allpoints.real.max()),
        float(allpoints.imag.max()),
    )


def paper_size_mm(paper: str, landscape: bool | None = None) -> tuple[float, float]:
    """(width, height) in mm for a paper name (a4, letter, ...) or 'WxH' in mm (units allowed).

    landscape=True makes width >= height, False makes height >= width, None keeps it as given.
    """
    text = paper.strip().lower()
    if text == "tight":
        text = ""
    if re.fullmatch(r"\d+(\.\d*)?x\d+(\.\d*)?", text):
        text += "mm"
    try:
        width_px, height_px = vp.convert_page_size(text)
    except ValueError:
        raise LayoutError(
            f"unknown paper '{paper}' (use {', '.join(PAPER_NAMES)} or WxH in mm, e.g. 200x150)"
        ) from None
    width, height = width_px / PX_PER_MM, height_px / PX_PER_MM
    if width <= 0 or height <= 0:
        raise LayoutError(f"paper '{paper}' has no area")
    if landscape is True:
        return max(width, height), min(width, height)
    if landscape is False:
        return min(width, height), max(width, height)
    return width, height


def parse_grid(text: str) -> tuple[int, int]:
    """'RxC' -> (rows, columns)."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match or int(match[1]) < 1 or int(match[2]) < 1:
        raise LayoutError(f"bad grid '{text}': expected ROWSxCOLUMNS, e.g. 4x5")
    return int(match[1]), int(match[2])


def auto_grid(count: int, usable_width: float, usable_height: float) -> tuple[int, int]:
    """Rows and columns for ``count`` drawings that give the largest square cells."""
    best = (1, count)
    best_side = -1.0
    for cols in range(1, count + 1):
        rows = math.ceil(count / cols)
        side = min(usable_width / cols, usable_height / rows)
        if side > best_side + 1e-9:
            best, best_side = (rows, cols), side
    return best


def fit_drawing(
    drawing: Sequence[np.ndarray], left: float, top: float, width: float, height: float
) -> list[np.ndarray]:
    """Scale a drawing uniformly to fit the box and centre it there (same unit as the box).

    A one-point stroke (a dot) becomes a zero-length two-point line: vpype drops one-point
    lines, and the G-code writer turns a zero-length line into a pen down/up dot. A drawing
    whose points or extent are not finite is refused here, where every drawing enters the page.
    """
    if not sum(np.size(line) for line in drawing):
        raise LayoutError("cannot lay out a drawing without points")
    xmin, ymin, xmax, ymax = polylines_extent(list(drawing))
    extent_w, extent_h = xmax - xmin, ymax - ymin
    if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax, extent_w, extent_h)):
        raise LayoutError("cannot lay out a drawing with NaN, infinite or too large coordinates")
    scales = [limit / extent for limit, extent in ((width, extent_w), (height, extent_h)) if extent > 0]
    scale = min(scales) if scales else 1.0
    centre = complex((xmin + xmax) / 2, (ymin + ymax) / 2)
    target = complex(left + width / 2, top + height / 2)
    placed = []
    with np.errstate(over="ignore", invalid="ignore"):  # checked below
        for line in drawing:
            line = (np.asarray(line, dtype=complex) - centre) * scale + target
            placed.append(np.repeat(line, 2) if line.size == 1 else line)
    if not all(np.isfinite(line).all() for line in placed):  # e.g. an extent of 1e-320 scaled up
        raise LayoutError("cannot scale a drawing to its cell (coordinates out of range)")
    return placed


def cell_grid(drawings: Sequence[Sequence[np.ndarray]], columns: int, size: float, gutter: float) -> vp.LineCollection:
    """Drawings in a grid of square ``size`` cells, ``columns`` wide, ``gutter`` apart, row by row
    from the top-left corner (no page: what the vpype plugin hands to vpype)."""
    lines = vp.LineCollection()
    for k, drawing in enumerate(drawings):
        row, col = divmod(k, columns)
        lines.extend(fit_drawing(drawing, col * (size + gutter), row * (size + gutter), size, size))
    return lines


def layout_grid(
    drawings: Sequence[Sequence[np.ndarray]],
    *,
    page_mm: tuple[float, float],
    grid: tuple[int, int] | None = None,
    margin_mm: float = 10.0,
    gutter_mm: float = 5.0,
    line_layers: Sequence[Sequence[int]] | None = None,
) -> vp.Document:
    """Drawings in a rows x columns grid, row by row, each centred and scaled in its cell.

    One drawing with no grid fills the page inside the margins. ``grid=None`` picks the grid
    with the largest cells. ``line_layers[k][j]``: the layer (pen) of drawing k's line j, all
    in layer 1 by default; a drawing's lines share one scale whatever their layers.
    """
    if not drawings:
        raise LayoutError("nothing to lay out: no drawings")
    if not (0 <= margin_mm < math.inf and 0 <= gutter_mm < math.inf):  # NaN fails both
        raise LayoutError(f"margin ({margin_mm:g} mm) and gutter ({gutter_mm:g} mm) must be finite and not negative")
    page_w, page_h = page_mm
    usable_w, usable_h = page_w - 2 * margin_mm, page_h - 2 * margin_mm
    if usable_w <= 0 or usable_h <= 0:
        raise LayoutError(f"margin {margin_mm:g} mm leaves no room on a {page_w:g} x {page_h:g} mm page")
    rows, cols = grid if grid is not None else auto_grid(len(drawings), usable_w, usable_h)
    if rows * cols < len(drawings):
        raise LayoutError(f"grid {rows}x{cols} has {rows * cols} cells for {len(drawings)} drawings")
    cell_w = (usable_w - (cols - 1) * gutter_mm) / cols
    cell_h = (usable_h - (rows - 1) * gutter_mm) / rows
    if cell_w <= 0 or cell_h <= 0:
        raise LayoutError(f"gutter {gutter_mm:g} mm leaves no room for a {rows}x{cols} grid")
    by_layer: dict[int, list[np.ndarray]] = {}
    for k, drawing in enumerate(drawings):
        row, col = divmod(k, cols)
        left = (margin_mm + col * (cell_w + gutter_mm)) * PX_PER_MM
        top = (margin_mm + row * (cell_h + gutter_mm)) * PX_PER_MM
        try:
            placed = fit_drawing(drawing, left, top, cell_w * PX_PER_MM, cell_h * PX_PER_MM)
        except LayoutError as exc:
            raise LayoutError(f"drawing {k}: {exc}") from None
        layers = line_layers[k] if line_layers is not None else [1] * len(placed)
        if len(layers) != len(placed):
            raise LayoutError(f"drawing {k}: {len(placed)} lines but {len(layers)} layer ids")
        for line, layer_id in zip(placed, layers):
            by_layer.setdefault(layer_id, []).append(line)
    document = vp.Document(page_size=(page_w * PX_PER_MM, page_h * PX_PER_MM))
    for layer_id in sorted(by_layer):
        document.add(vp.LineCollection(by_layer[layer_id]), layer_id)
    return document
