"""SVG preview of a page through vpype's writer, pen-up travel optionally in a second colour.

No PNG: vpype has no raster writer and a rasteriser (cairo, matplotlib) would be a new
dependency for a preview any browser already shows.
"""

from __future__ import annotations

import io
import os

import numpy as np
import vpype as vp

from sketchplot.core.atomic import atomic_write_text
from sketchplot.core.errors import SketchplotError

INK_COLOURS = ("black", "#1565c0", "#2e7d32", "#ef6c00")  # pen 1, 2, 3, 4 (then again)
TRAVEL_COLOUR = "red"


def travel_lines(document: vp.Document) -> vp.LineCollection:
    """Pen-up moves as straight two-point lines, layers in id order."""
    lines = [line for layer_id in sorted(document.layers) for line in document.layers[layer_id].lines]
    travel = vp.LineCollection()
    for previous, following in zip(lines[:-1], lines[1:]):
        travel.append(np.array([previous[-1], following[0]]))
    return travel


def preview_svg(document: vp.Document, *, show_travel: bool = False) -> str:
    """The page as SVG text: the first ink layer in black, the others (further pens) each in
    its own colour, travel (if asked) in its own red layer."""
    preview = vp.Document(page_size=document.page_size)
    for index, layer_id in enumerate(sorted(document.layers)):
        ink = document.layers[layer_id].clone(document.layers[layer_id])
        ink.set_property(vp.METADATA_FIELD_COLOR, vp.Color(INK_COLOURS[index % len(INK_COLOURS)]))
        ink.set_property(vp.METADATA_FIELD_NAME, f"ink {layer_id}")
        preview.add(ink, layer_id, with_metadata=True)
    if show_travel:
        travel = travel_lines(document)
        travel.set_property(vp.METADATA_FIELD_COLOR, vp.Color(TRAVEL_COLOUR))
        travel.set_property(vp.METADATA_FIELD_NAME, "pen-up travel")
        preview.add(travel, preview.free_id(), with_metadata=True)
    output = io.StringIO()
    vp.write_svg(output, preview, color_mode="default", set_date=False, source_string="sketchplot")
    return output.getvalue()


def write_preview(document: vp.Document, path: str | os.PathLike, *, show_travel: bool = False) -> None:
    """Write the SVG preview to ``path`` whole or not at all (folders created)."""
    text = preview_svg(document, show_travel=show_travel)
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise SketchplotError(f"cannot write preview {path}: {exc.strerror or exc}") from None
