"""Read sketches from Sketch-RNN ``.npz``, Quick, Draw! ``.ndjson`` and ``.svg`` files.

Every reader returns drawings: a drawing is a list of complex polylines, y down
(see ``strokes.py``). Sketch units are kept (Quick, Draw! pixels, SVG CSS pixels); the layout
scales each drawing to its cell, so the unit does not matter.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sketchplot.model.quickdraw import Drawing, InputError, parse_ndjson_drawing, read_npz
from sketchplot.plotter.strokes import SketchError, strokes_to_polylines


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
    """Selected drawings of a Quick, Draw! ndjson file (simplified or raw format)."""
    path = Path(path)
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ndjson file: {exc}") from None
    drawings = []
    for i in select_indices(len(lines), indices, limit, str(path)):
        try:
            record = json.loads(lines[i])
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: sketch {i}: bad JSON ({exc.msg})") from None
        drawings.append(parse_ndjson_drawing(record, f"{path}: sketch {i}"))
    return drawings


def read_svg(path: str | os.PathLike, quantization_px: float = 0.1) -> Drawing:
    """An SVG file's paths through vpype's reader (curves cut into segments of ``quantization_px``)."""
    import vpype as vp

    path = Path(path)
    try:
        lines, _, _ = vp.read_svg(str(path), quantization=quantization_px, crop=False)
    except Exception as exc:  # svgelements raises many unrelated types for a bad file
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: cannot read SVG: {reason}") from None
    drawing = [line for line in lines.lines if line.size]
    if not drawing:
        raise SketchError(f"{path}: SVG contains no paths")
    return drawing


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
