"""Quick, Draw! files as the model and the plotter read them: sketch-rnn ``.npz`` splits and
ndjson drawings, simplified or raw.

Torch-free on purpose: the plot pipeline reads its inputs through this module too, so both
layers read the same files the same way and apply exactly the same treatment to raw drawings
(Google's: align to the top-left corner, scale the longest side to 255, Ramer-Douglas-Peucker
with epsilon 2).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import shapely

from sketchplot.errors import SketchplotError

Drawing = list[np.ndarray]  # complex polylines, y down

RAW_LONGEST_SIDE = 255.0
RAW_RDP_EPSILON = 2.0


class InputError(SketchplotError):
    """An input file or record that is missing, unreadable or does not hold what was asked for."""


def read_npz(path: str | os.PathLike, split: str) -> list[np.ndarray]:
    """All stroke-3 arrays (row 0 = absolute start) of one split of a sketch-rnn npz file."""
    path = Path(path)
    try:
        with np.load(path, encoding="latin1", allow_pickle=True) as data:
            if split not in data.files:
                raise InputError(f"{path}: no split '{split}' (has: {', '.join(data.files)})")
            return list(data[split])
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"{path}: cannot read npz file: {exc}") from None


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
        raise InputError(f"{where}: not a Quick, Draw! drawing record ({exc})") from None
    polylines = [p for p in polylines if p.size]
    if not polylines:
        raise InputError(f"{where}: empty sketch (no points)")
    if not all(np.all(np.isfinite(p)) for p in polylines):
        raise InputError(f"{where}: NaN or infinite coordinate")
    return simplify_raw_drawing(polylines) if is_raw else polylines


def drawing_to_stroke3(drawing: Drawing) -> np.ndarray:
    """Polylines -> stroke-3 with row 0 the absolute start point (the sketch-rnn npz layout)."""
    points = np.concatenate(drawing)
    lifted = np.concatenate([np.eye(1, len(line), len(line) - 1)[0] for line in drawing])
    offsets = np.diff(points, prepend=0)
    return np.column_stack([offsets.real, offsets.imag, lifted]).astype(np.float32)


def drawing_to_sketch(drawing: Drawing) -> np.ndarray:
    """Any drawing (an SVG's paths, an ndjson or npz drawing) -> what the models read: Google's
    treatment (longest side 255, RDP epsilon 2), stroke-3 starting at the origin (no start row)."""
    return drawing_to_stroke3(simplify_raw_drawing(list(drawing)))[1:]
