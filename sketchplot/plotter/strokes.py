"""Sketch-RNN stroke arrays to polylines.

Convention: a polyline is a 1-D complex numpy array ``x + 1j*y`` (vpype's convention) in
*sketch units* with y pointing **down**, exactly as Quick, Draw! recorded it. Nothing is
flipped here; the only y flip in the whole program is ``MachineProfile.page_to_machine``.
"""

from __future__ import annotations

import numpy as np

from sketchplot.errors import SketchplotError


class SketchError(SketchplotError):
    """A sketch that cannot be drawn: empty, malformed or containing NaN/inf."""


def stroke5_to_stroke3(strokes: np.ndarray) -> np.ndarray:
    """(N,5) [dx, dy, p_down, p_up, p_end] -> (M,3) [dx, dy, pen_lifted], cut at the end token."""
    strokes = np.asarray(strokes, dtype=float)
    end = np.flatnonzero(strokes[:, 4] > 0.5)
    if end.size:
        strokes = strokes[: end[0]]
    lifted = (strokes[:, 3] > 0.5).astype(float)
    return np.column_stack([strokes[:, 0], strokes[:, 1], lifted])


def strokes_to_polylines(strokes: np.ndarray, where: str = "sketch") -> list[np.ndarray]:
    """Stroke-3 (N,3) or stroke-5 (N,5) offsets -> list of absolute complex polylines.

    Row 0 is an offset from (0, 0) like every other row, so the absolute start offset stored
    in Sketch-RNN npz files is honoured by the cumulative sum. A row with pen_lifted=1 is the
    last point of its stroke; points after the last lift form a final stroke. ``where`` names
    the sketch in error messages.
    """
    array = np.asarray(strokes)
    if array.ndim != 2 or array.shape[1] not in (3, 5):
        raise SketchError(
            f"{where}: expected a stroke-3 (N,3) or stroke-5 (N,5) array, got shape {array.shape}"
        )
    if not np.issubdtype(array.dtype, np.number):
        raise SketchError(f"{where}: stroke array is not numeric ({array.dtype})")
    array = array.astype(float)
    if array.shape[1] == 5:
        array = stroke5_to_stroke3(array)
    if len(array) == 0:
        raise SketchError(f"{where}: empty sketch (no points)")
    if not np.all(np.isfinite(array)):
        row = int(np.flatnonzero(~np.all(np.isfinite(array), axis=1))[0])
        raise SketchError(f"{where}: NaN or infinite value at row {row}")
    with np.errstate(over="ignore", invalid="ignore"):
        points = np.cumsum(array[:, 0]) + 1j * np.cumsum(array[:, 1])
    if not np.all(np.isfinite(points)):
        row = int(np.flatnonzero(~np.isfinite(points))[0])
        raise SketchError(f"{where}: offsets too large: the position at row {row} overflows")
    ends = np.flatnonzero(array[:, 2] > 0.5) + 1
    return [piece for piece in np.split(points, ends) if piece.size]


def split_polylines(strokes: np.ndarray, row: int, where: str = "sketch") -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Stroke-3 offsets -> (polylines of the points of rows [0, row), polylines of the rest).

    For drawing a continuation in a second pen: a stroke that runs across the split is cut
    there, and its second part starts at the first part's last point, so no segment is lost.
    """
    whole = strokes_to_polylines(strokes, where)
    before, after, start = [], [], 0
    for line in whole:
        stop = start + len(line)
        if stop <= row:
            before.append(line)
        elif start >= row:
            after.append(line)
        else:
            before.append(line[: row - start])
            after.append(line[row - start - 1 :])
        start = stop
    return before, after


def from_origin(strokes: np.ndarray) -> np.ndarray:
    """Stroke-3 without an absolute start row (model samples) -> with one: the pen starts at
    the origin and the first row draws from there instead of jumping."""
    strokes = np.asarray(strokes)
    return np.vstack([np.zeros((1, strokes.shape[1]), dtype=strokes.dtype), strokes])


def polylines_extent(polylines: list[np.ndarray]) -> tuple[float, float, float, float]:
    """(xmin, ymin, xmax, ymax) of a drawing."""
    allpoints = np.concatenate(polylines)
    return (
        float(allpoints.real.min()),
        float(allpoints.imag.min()),
        float(allpoints.real.max()),
        float(allpoints.imag.max()),
    )
