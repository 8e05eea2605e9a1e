"""Read sketches from Sketch-RNN ``.npz``, Quick, Draw! ``.ndjson`` and ``.svg`` files.

Every reader returns drawings: a drawing is a list of complex polylines, y down
(see ``strokes.py``). Sketch units are kept (Quick, Draw! pixels, SVG CSS pixels); the layout
scales each drawing to its cell, so the unit does not matter.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from sketchplot.model.quickdraw import (
    SKETCHES_KEY, Drawing, InputError, decode_ndjson_record, ndjson_lines, npz_members, parse_ndjson_drawing,
    read_npz,
)
from sketchplot.plotter.strokes import SketchError, from_origin, strokes_to_polylines

MAX_SVG_BYTES = 16 * 2**20  # a hand-drawn SVG is kilobytes; vpype holds the whole tree in memory
# Curves are cut into at most about this many segments per longest side, whatever the SVG's
# units: a circle of radius 1e9 px at vpype's 0.1 px would be billions of points.
MAX_SEGMENTS_PER_SIDE = 10_000


def select_indices(count: int, indices: list[int] | None, limit: int | None, where: str) -> list[int]:
    """Which items to take: explicit indices, the first ``limit``, or just the first one."""
    if indices is not None and limit is not None:
        raise InputError("give either indices or a limit, not both")
    if count == 0:
        raise InputError(f"{where}: contains no sketches")
    if indices is not None:
        if not indices:
            raise InputError(f"{where}: empty index list")
        bad = [i for i in indices if not 0 <= i < count]
        if bad:
            raise InputError(f"{where}: index {bad[0]} out of range (0..{count - 1})")
        return list(indices)
    if limit is not None:
        if limit < 1:
            raise InputError(f"limit must be at least 1, got {limit}")
        return list(range(min(limit, count)))
    return [0]


def read_ndjson(
    path: str | os.PathLike, indices: list[int] | None = None, limit: int | None = None
) -> list[Drawing]:
    """Selected drawings of a Quick, Draw! ndjson file (simplified or raw format), read line
    by line and only as far as the selection needs (class files run to hundreds of MB)."""
    path = Path(path)
    if indices is not None and limit is not None:
        raise InputError("give either indices or a limit, not both")
    if indices is not None:  # a bad index reads the whole file, for the count in the message
        wanted = max(indices) + 1 if indices and min(indices) >= 0 else math.inf
    else:
        wanted = max(limit or 1, 1)
    lines = []
    for _, line in ndjson_lines(path):
        lines.append(line)
        if len(lines) >= wanted:
            break
    drawings = []
    for i in select_indices(len(lines), indices, limit, str(path)):
        where = f"{path}: sketch {i}"
        drawings.append(parse_ndjson_drawing(decode_ndjson_record(lines[i], where), where))
    return drawings


def read_svg(path: str | os.PathLike, quantization_px: float = 0.1) -> Drawing:
    """An SVG file's paths through vpype's reader (curves cut into segments of ``quantization_px``,
    coarser for a drawing so large that this would exceed ``MAX_SEGMENTS_PER_SIDE``)."""
    import vpype as vp

    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path}: cannot read SVG: {exc.strerror}") from None
    if size > MAX_SVG_BYTES:
        raise InputError(f"{path}: SVG of {size / 2**20:.1f} MiB is too large (at most {MAX_SVG_BYTES // 2**20} MiB)")
    try:
        quantization_px = max(quantization_px, _svg_extent(path) / MAX_SEGMENTS_PER_SIDE)
        lines, _, _ = vp.read_svg(str(path), quantization=quantization_px, crop=False)
    except Exception as exc:  # svgelements raises many unrelated types for a bad file
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: cannot read SVG: {reason}") from None
    drawing = [line for line in lines.lines if line.size]
    if not drawing:
        raise SketchError(f"{path}: SVG contains no paths")
    if not all(np.isfinite(line).all() for line in drawing):
        raise SketchError(f"{path}: SVG has NaN or infinite coordinates")
    return drawing


def _svg_extent(path: Path) -> float:
    """The longest side of the bounding box of the SVG's shapes (0 if it has none)."""
    import svgelements

    box = None
    for element in svgelements.SVG.parse(str(path)).elements():
        if isinstance(element, svgelements.Shape):
            shape_box = element.bbox()
            if shape_box is not None:
                box = shape_box if box is None else (min(box[0], shape_box[0]), min(box[1], shape_box[1]),
                                                     max(box[2], shape_box[2]), max(box[3], shape_box[3]))
    if box is None:
        return 0.0
    extent = max(box[2] - box[0], box[3] - box[1])
    if not math.isfinite(extent):
        raise ValueError("coordinates too large (the extent overflows)")
    return extent


def load_drawings(
    path: str | os.PathLike,
    *,
    split: str = "test",
    indices: list[int] | None = None,
    limit: int | None = None,
) -> list[Drawing]:
    """Drawings from any supported file; by default only the first sketch of the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"input file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        members = npz_members(path)
        if split == SKETCHES_KEY or (SKETCHES_KEY in members and split not in members):
            # generated sketches (`sample -o`, `draw -o`): the pen starts at the origin
            split = SKETCHES_KEY
            sketches = [from_origin(s) for s in read_npz(path, split)]
        else:
            sketches = read_npz(path, split)
        chosen = select_indices(len(sketches), indices, limit, f"{path} [{split}]")
        return [strokes_to_polylines(sketches[i], f"{path} [{split}] sketch {i}") for i in chosen]
    if suffix == ".ndjson":
        return read_ndjson(path, indices, limit)
    if suffix == ".svg":
        if indices is not None or limit is not None:
            raise InputError(f"{path}: an SVG holds one drawing; --index/--limit do not apply")
        return [read_svg(path)]
    raise InputError(f"{path}: unsupported input type '{suffix}' (use .npz, .ndjson or .svg)")
