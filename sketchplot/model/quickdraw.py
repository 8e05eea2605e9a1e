"""Quick, Draw! ndjson drawings, simplified or raw, as the model and the plotter read them.

Torch-free on purpose: the plot pipeline reads ndjson through this module too, so both layers
apply exactly the same treatment to raw drawings (Google's: align to the top-left corner,
scale the longest side to 255, Ramer-Douglas-Peucker with epsilon 2).
"""

from __future__ import annotations

import numpy as np
import shapely

from sketchplot.errors import SketchplotError

Drawing = list[np.ndarray]  # complex polylines, y down

RAW_LONGEST_SIDE = 255.0
RAW_RDP_EPSILON = 2.0


class QuickDrawError(SketchplotError):
    """A record that is not a usable Quick, Draw! drawing."""


def simplify_raw_drawing(strokes: list[np.ndarray]) -> Drawing:
    """Google's treatment of raw Quick, Draw! strokes: align to the top-left corner, scale
    the longest side to 255, Ramer-Douglas-Peucker with epsilon 2 (shapely's simplify)."""
    allpoints = np.concatenate(strokes)
    origin = complex(allpoints.real.min(), allpoints.imag.min())
    size = max(np.ptp(allpoints.real), np.ptp(allpoints.imag))
    scale = RAW_LONGEST_SIDE / size if size > 0 else 1.0
    scaled = [(s - origin) * scale for s in strokes]
    result = []
    for stroke in scaled:
        if len(stroke) < 3:
            result.append(stroke)
            continue
        line = shapely.simplify(
            shapely.LineString(np.column_stack([stroke.real, stroke.imag])),
            RAW_RDP_EPSILON,
            preserve_topology=False,
        )
        coords = shapely.get_coordinates(line)
        result.append(coords[:, 0] + 1j * coords[:, 1])
    return result


def parse_ndjson_drawing(record: dict, where: str) -> Drawing:
    """One ndjson record -> drawing; raw records (strokes with a time list) are simplified."""
    try:
        strokes = record["drawing"]
        polylines = [np.asarray(s[0], float) + 1j * np.asarray(s[1], float) for s in strokes]
        is_raw = any(len(s) >= 3 for s in strokes)
    except (KeyError, TypeError, IndexError, ValueError) as exc:
        raise QuickDrawError(f"{where}: not a Quick, Draw! drawing record ({exc})") from None
    polylines = [p for p in polylines if p.size]
    if not polylines:
        raise QuickDrawError(f"{where}: empty sketch (no points)")
    if not all(np.all(np.isfinite(p)) for p in polylines):
        raise QuickDrawError(f"{where}: NaN or infinite coordinate")
    return simplify_raw_drawing(polylines) if is_raw else polylines


def drawing_to_stroke3(drawing: Drawing) -> np.ndarray:
    """Polylines -> stroke-3 with row 0 the absolute start point (the sketch-rnn npz layout)."""
    points = np.concatenate(drawing)
    lifted = np.concatenate([np.eye(1, len(line), len(line) - 1)[0] for line in drawing])
    offsets = np.diff(points, prepend=0)
    return np.column_stack([offsets.real, offsets.imag, lifted]).astype(np.float32)
