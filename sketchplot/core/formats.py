"""Sketch files and the stroke conventions, in one place: every reader, writer and conversion.

Two shapes of sketch travel through the program:

* stroke-3, ``(N, 3)`` rows ``[dx, dy, pen_lifted]``. Files from Quick, Draw! (sketch-rnn ``.npz``
  splits) keep row 0 as the absolute start point; the models read and write sketches that
  start at the origin (no start row), and ``sample -o`` files (key ``sketches``) hold those.
  ``drop_start_row`` and ``from_origin`` convert between the two.
* drawings: a list of complex polylines ``x + 1j*y`` (vpype's convention) in sketch units with
  y pointing **down**, exactly as Quick, Draw! recorded it. Nothing is flipped here; the only y
  flip in the program is ``MachineProfile.page_to_machine``.

The model and the plotter both read through this module, so they read the same files the same
way and give raw drawings the same treatment (Google's: align to the top-left corner, scale the
longest side to 255, Ramer-Douglas-Peucker with epsilon 2).
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from sketchplot.core.atomic import atomic_open
from sketchplot.core.errors import SketchplotError

Drawing = list[np.ndarray]  # complex polylines, y down

RAW_LONGEST_SIDE = 255.0
RAW_RDP_EPSILON = 2.0


class SketchError(SketchplotError):
    """A sketch that cannot be drawn: empty, malformed or containing NaN/inf."""


class InputError(SketchplotError):
    """An input file or record that is missing, unreadable or does not hold what was asked for."""


MAX_NPZ_MEMBER_BYTES = 512 * 2**20  # the largest Quick, Draw! class file holds about 20 MB

# What numpy's pickle of an object array of numeric arrays refers to, and nothing else: any
# other global in the file (os.system, builtins.eval, ...) is refused before it is looked up.
# Even these are not numpy's own: numpy would allocate whatever shape the file names, and its
# __setstate__ crashes the interpreter on a list that does not fit the shape. The unpickler
# builds inert records instead, which _array_from_record checks and turns into arrays.
_NUMPY_RECONSTRUCT = {("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct")}
_NUMPY_NDARRAY = ("numpy", "ndarray")
_NUMPY_DTYPE = ("numpy", "dtype")


class _ArrayRecord:
    """What a pickled ndarray says about itself (its __setstate__ arguments), not yet trusted."""

    def __init__(self, *args):
        self.state = None

    def __setstate__(self, state):
        self.state = state


class _DtypeRecord:
    """A pickled numpy.dtype: its type code and byte order, not yet trusted."""

    def __init__(self, spec=None, *args):
        self.spec, self.state = spec, None

    def __setstate__(self, state):
        self.state = state

    def dtype(self) -> np.dtype:
        """numpy.dtype for the type codes a sketch file may hold: object, integers and floats."""
        if not isinstance(self.spec, str) or len(self.spec) > 4:
            raise ValueError(f"refused dtype {self.spec!r}")
        dtype = np.dtype(self.spec)
        if dtype.kind not in "biufO":
            raise ValueError(f"refused dtype {self.spec!r} (only numbers are read)")
        order = self.state[1] if isinstance(self.state, tuple) and len(self.state) > 1 else "|"
        if order not in ("<", ">", "|", "="):
            raise ValueError(f"refused byte order {order!r}")
        return dtype.newbyteorder(order) if order in "<>" and dtype.itemsize > 1 else dtype


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Reads a sketch-rnn npz member's pickle into inert records; refuses every other object."""

    def find_class(self, module: str, name: str):
        if (module, name) in _NUMPY_RECONSTRUCT:
            return _ArrayRecord
        if (module, name) == _NUMPY_NDARRAY:
            return _ArrayRecord
        if (module, name) == _NUMPY_DTYPE:
            return _DtypeRecord
        raise pickle.UnpicklingError(f"refused to load '{module}.{name}' (only numeric arrays are read)")


def _array_from_record(record: object, budget: list[int], depth: int = 0) -> np.ndarray:
    """A checked array from an unpickled record: shape, dtype and data must agree, nested
    object arrays at most two deep, and all of them together no larger than ``budget`` elements."""
    if not isinstance(record, _ArrayRecord) or not isinstance(record.state, tuple) or len(record.state) != 5:
        raise ValueError("not a numpy array record")
    _, shape, dtype, fortran, data = record.state
    if not (isinstance(shape, tuple) and all(isinstance(n, int) and n >= 0 for n in shape)):
        raise ValueError("bad array shape")
    if not isinstance(dtype, _DtypeRecord):
        raise ValueError("bad array dtype")
    dtype = dtype.dtype()
    count = math.prod(shape)
    budget[0] -= count
    if budget[0] < 0:
        raise ValueError("the arrays are larger than the file could hold")
    order = "F" if fortran else "C"
    if dtype.hasobject:
        if depth >= 1 or not isinstance(data, list) or len(data) != count:
            raise ValueError("bad object array")
        array = np.empty(count, dtype=object)
        for index, item in enumerate(data):
            array[index] = _array_from_record(item, budget, depth + 1)
        return array.reshape(shape, order=order)
    if not isinstance(data, bytes) or len(data) != count * dtype.itemsize:
        raise ValueError("array data does not fit its shape")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order=order).copy()


def _read_npy_member(archive: zipfile.ZipFile, member: str) -> np.ndarray:
    """One ``.npy`` member: numeric arrays directly, object arrays through the array-only unpickler."""
    info = archive.getinfo(member)
    if info.file_size > MAX_NPZ_MEMBER_BYTES:
        raise ValueError(
            f"member {member} is {info.file_size / 2**20:.0f} MiB (at most {MAX_NPZ_MEMBER_BYTES // 2**20})"
        )
    raw = archive.read(member)
    stream = io.BytesIO(raw)
    version = np.lib.format.read_magic(stream)
    header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = header(stream)
    if not dtype.hasobject:
        if math.prod(shape) * dtype.itemsize != len(raw) - stream.tell():
            raise ValueError(f"member {member} does not hold the {shape} array its header announces")
        stream.seek(0)
        return np.lib.format.read_array(stream, allow_pickle=False)
    record = _ArrayOnlyUnpickler(stream, encoding="latin1").load()
    array = _array_from_record(record, [len(raw)])
    if array.shape != shape:
        raise ValueError(f"member {member} does not hold the array its header announces")
    return array


def _stroke_array(value: object, where: str) -> np.ndarray:
    """A checked stroke-3 array: numeric, shape (N, 3), finite."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf" or value.ndim != 2 or value.shape[1] != 3:
        shape = getattr(value, "shape", type(value).__name__)
        raise InputError(f"{where}: not a stroke-3 array (N, 3) of numbers (got {shape})")
    if not np.all(np.isfinite(value)):
        raise InputError(f"{where}: NaN or infinite offset")
    return value


def _read_npz_array(path: Path, key: str) -> np.ndarray:
    """One member of an npz file, with every way a bad file can fail turned into an InputError."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = {name.removesuffix(".npy"): name for name in archive.namelist() if name.endswith(".npy")}
            if key not in members:
                raise InputError(f"{path}: no split '{key}' (has: {', '.join(members) or 'nothing'})")
            return _read_npy_member(archive, members[key])
    except InputError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError, zipfile.LargeZipFile) as exc:
        raise InputError(f"{path}: cannot read npz file: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a crafted pickle can raise anything; it is the file's fault
        raise InputError(f"{path}: cannot read npz file: {type(exc).__name__}: {exc}") from None


def npz_members(path: str | os.PathLike) -> list[str]:
    """The arrays an npz file holds (its splits), without reading them."""
    try:
        with zipfile.ZipFile(path) as archive:
            return [name.removesuffix(".npy") for name in archive.namelist() if name.endswith(".npy")]
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise InputError(f"{path}: cannot read npz file: {exc}") from None


def read_npz_scalar(path: str | os.PathLike, key: str) -> float:
    """A single number stored in an npz file (such as the length cap of sampled sketches)."""
    array = _read_npz_array(Path(path), key)
    if array.shape != () or array.dtype.kind not in "biuf" or not np.isfinite(array):
        raise InputError(f"{path}: '{key}' is not a single finite number")
    return float(array)


def read_npz(path: str | os.PathLike, split: str) -> list[np.ndarray]:
    """All stroke-3 arrays (row 0 = absolute start) of one split of a sketch-rnn npz file.

    Never runs code from the file: object arrays are rebuilt by an unpickler that knows only
    numpy's array constructors, and every sketch is checked to be a finite (N, 3) array."""
    path = Path(path)
    array = _read_npz_array(path, split)
    if array.ndim not in (1, 3):
        raise InputError(f"{path}: split '{split}' is not a list of sketches (shape {array.shape})")
    return [_stroke_array(sketch, f"{path}: {split}[{index}]") for index, sketch in enumerate(array)]


def simplify_raw_drawing(strokes: list[np.ndarray]) -> Drawing:
    """Google's treatment of raw Quick, Draw! strokes: align to the top-left corner, scale
    the longest side to 255, Ramer-Douglas-Peucker with epsilon 2 (shapely's simplify)."""
    allpoints = np.concatenate(strokes)
    origin = complex(allpoints.real.min(), allpoints.imag.min())
    with np.errstate(over="ignore", invalid="ignore"):
        size = max(np.ptp(allpoints.real), np.ptp(allpoints.imag))
    if not np.isfinite(origin) or not np.isfinite(size):
        raise InputError("coordinates too large to scale (their extent overflows)")
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


def _coordinates(values: object) -> np.ndarray:
    """One coordinate list of an ndjson stroke as a 1-D float array."""
    if not isinstance(values, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise ValueError("a coordinate list is not a list of numbers")
    return np.asarray(values, dtype=float)


def parse_ndjson_drawing(record: object, where: str) -> Drawing:
    """One ndjson record -> drawing; raw records (strokes with a time list) are simplified.

    Each stroke is ``[xs, ys]`` or ``[xs, ys, ts]`` of equally long lists of numbers."""
    try:
        if not isinstance(record, dict) or not isinstance(record.get("drawing"), list):
            raise ValueError("no 'drawing' list")
        strokes = record["drawing"]
        if not all(isinstance(s, list) and len(s) in (2, 3) for s in strokes):
            raise ValueError("a stroke is not [xs, ys] or [xs, ys, times]")
        polylines = []
        for s in strokes:
            xs, ys = _coordinates(s[0]), _coordinates(s[1])
            if len(xs) != len(ys):
                raise ValueError(f"a stroke has {len(xs)} x but {len(ys)} y coordinates")
            polylines.append(xs + 1j * ys)
        is_raw = any(len(s) == 3 for s in strokes)
    except (ValueError, OverflowError) as exc:
        raise InputError(f"{where}: not a Quick, Draw! drawing record ({exc})") from None
    polylines = [p for p in polylines if p.size]
    if not polylines:
        raise InputError(f"{where}: empty sketch (no points)")
    if not all(np.all(np.isfinite(p)) for p in polylines):
        raise InputError(f"{where}: NaN or infinite coordinate")
    if not is_raw:
        return polylines
    try:
        return simplify_raw_drawing(polylines)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


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


MAX_NDJSON_LINE_BYTES = 1 * 2**20  # a raw Quick, Draw! record of 10,000 points is about 200 KB


def ndjson_lines(path: str | os.PathLike) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of each non-blank line of an ndjson file, read one bounded line at
    a time: a line over ``MAX_NDJSON_LINE_BYTES`` is an ``InputError`` naming it."""
    path = Path(path)
    try:
        with path.open("rb") as lines:
            line_no = 0
            while line := lines.readline(MAX_NDJSON_LINE_BYTES + 1):
                line_no += 1
                if len(line) > MAX_NDJSON_LINE_BYTES:
                    raise InputError(f"{path}:{line_no}: line longer than {MAX_NDJSON_LINE_BYTES // 2**20} MiB")
                if line.strip():
                    yield line_no, line
    except OSError as exc:
        raise InputError(f"{path}: cannot read ndjson file: {exc.strerror or exc}") from None


def decode_ndjson_record(line: bytes, where: str) -> object:
    """One ndjson line's JSON; bad UTF-8, bad JSON or JSON nested too deeply for Python's
    parser is an ``InputError``."""
    try:
        return json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: bad JSON ({exc.msg})") from None
    except RecursionError:
        raise InputError(f"{where}: JSON nested too deeply") from None


SKETCHES_KEY = "sketches"  # what `sample -o` and every generating command's -o write
LENGTH_CAP_KEY = "max_len"  # the length cap the sketches were drawn under, when known


def write_sketches(path: str | os.PathLike, sketches: list[np.ndarray], max_len: int | None = None) -> None:
    """Stroke-3 sketches from the origin, in data units, as an npz ``sketches`` object array
    (and the length cap they were drawn under): the format `score`, `plot` and the latent
    commands read back. Written whole or not at all."""
    array = np.empty(len(sketches), dtype=object)
    array[:] = [np.asarray(s, dtype=np.float32) for s in sketches]
    extra = {} if max_len is None else {LENGTH_CAP_KEY: np.int64(max_len)}
    try:
        with atomic_open(path, "wb") as handle:
            np.savez(handle, **{SKETCHES_KEY: array}, **extra)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


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
        raise SketchError(f"{where}: expected a stroke-3 (N,3) or stroke-5 (N,5) array, got shape {array.shape}")
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


def drop_start_row(sketch: np.ndarray) -> np.ndarray:
    """Remove the absolute start offset so the sketch starts at the origin."""
    return sketch[1:] if len(sketch) > 1 else sketch


def to_stroke5(sketch: np.ndarray) -> np.ndarray:
    """Stroke-3 -> stroke-5 (dx, dy, p_draw, p_lift, p_end) with the end point appended."""
    n = len(sketch)
    out = np.zeros((n + 1, 5), dtype=np.float32)
    out[:n, :2] = sketch[:, :2]
    out[:n, 3] = sketch[:, 2] > 0.5
    out[:n, 2] = 1.0 - out[:n, 3]
    out[n, 4] = 1.0
    return out


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


def read_ndjson(path: str | os.PathLike, indices: list[int] | None = None, limit: int | None = None) -> list[Drawing]:
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
                box = (
                    shape_box
                    if box is None
                    else (
                        min(box[0], shape_box[0]),
                        min(box[1], shape_box[1]),
                        max(box[2], shape_box[2]),
                        max(box[3], shape_box[3]),
                    )
                )
    if box is None:
        return 0.0
    extent = max(box[2] - box[0], box[3] - box[1])
    if not math.isfinite(extent):
        raise ValueError("coordinates too large (the extent overflows)")
    return extent


def holds_generated_sketches(path: str | os.PathLike, split: str) -> bool:
    """Whether ``split`` of an npz file means its generated sketches (key ``sketches``, written by
    ``write_sketches``): asked for by name, or the file has them and not the split asked for."""
    members = npz_members(path)
    return split == SKETCHES_KEY or (SKETCHES_KEY in members and split not in members)


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
        if holds_generated_sketches(path, split):  # `sample -o`, `draw -o`: the pen starts at the origin
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


def read_stroke3_file(path: str | os.PathLike, split: str = "train") -> list[np.ndarray]:
    """Float32 stroke-3 sketches (row 0 = absolute start) of a sketch-rnn ``.npz`` split or of
    every drawing of a Quick, Draw! ``.ndjson`` file (raw ones get Google's simplification)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"data file not found: {path}")
    if path.suffix == ".npz":
        return [np.asarray(s, dtype=np.float32) for s in read_npz(path, split)]
    if path.suffix == ".ndjson":
        sketches = []
        for line_no, line in ndjson_lines(path):
            where = f"{path}:{line_no}"
            sketches.append(drawing_to_stroke3(parse_ndjson_drawing(decode_ndjson_record(line, where), where)))
        return sketches
    raise InputError(f"{path}: expected a .npz or .ndjson file")


@dataclass(frozen=True)
class SketchFile:
    """Sketches as stroke-3 from the origin, and the length cap they were drawn under, if known."""

    sketches: list[np.ndarray]
    cap: int | None
    class_hint: str | None  # the class the file names (ndjson 'word', file stem)


def read_sketch_file(path: str | os.PathLike, split: str | None = None) -> SketchFile:
    """Every sketch of a `sample -o` npz (key ``sketches``, with its length cap), of a sketch-rnn
    npz split (``split``, default test; row 0 dropped: it is the absolute start point) or of a
    Quick, Draw! ndjson file, as stroke-3 from the origin: what the models read."""
    path = Path(path)
    if path.suffix.lower() == ".ndjson":
        sketches, words = [], set()
        for line_no, line in ndjson_lines(path):
            where = f"{path}:{line_no}"
            record = decode_ndjson_record(line, where)
            sketches.append(drop_start_row(drawing_to_stroke3(parse_ndjson_drawing(record, where))))
            if isinstance(record, dict) and isinstance(record.get("word"), str):
                words.add(record["word"])
        return SketchFile(sketches, None, words.pop() if len(words) == 1 else path.stem)
    members = npz_members(path)
    if split in (None, SKETCHES_KEY) and SKETCHES_KEY in members:
        sketches = [np.asarray(s, np.float32) for s in read_npz(path, SKETCHES_KEY)]
        cap = int(read_npz_scalar(path, LENGTH_CAP_KEY)) if LENGTH_CAP_KEY in members else None
        return SketchFile(sketches, cap if cap and cap > 0 else None, path.stem)
    split = split or "test"
    sketches = [drop_start_row(np.asarray(s, np.float32)) for s in read_npz(path, split)]
    return SketchFile(sketches, None, path.stem)


def parse_indices(text: str) -> list[int] | None:
    """'12' -> [12], '0,3,7' -> [0, 3, 7], '0-99' -> [0 .. 99], '0-3,9' -> [0, 1, 2, 3, 9];
    None when ``text`` is not such a list."""
    indices = []
    for part in text.split(","):
        first, dash, last = part.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            return None
        low, high = int(first), int(last) if dash else int(first)
        if high < low or high - low >= 10_000:
            return None
        indices.extend(range(low, high + 1))
    return indices


def class_hint(path: str | os.PathLike) -> str:
    """The class a file's name suggests: cat.npz, full_simplified_cat.ndjson -> 'cat'."""
    return Path(path).stem.removeprefix("full_simplified_").removeprefix("full_raw_")


def read_input_sketches(spec: str, split: str = "test") -> tuple[list[np.ndarray], str]:
    """(sketches in model units, class hint) of an input spec: an .svg, or an .npz/.ndjson file
        with optional indices (default 0): cat.npz:12, cat.npz:0,3,7 or cat.npz:0-99. Every drawing
        gets Google's treatment (longest side 255, RDP epsilon 2) and starts at the origin, except the
    sketches of a ``sample -o`` file, which are model units already and are read as they are."""
    path, indices = spec, None
    head, sep, tail = spec.rpartition(":")
    if sep and not Path(spec).exists() and (parsed := parse_indices(tail)) is not None:
        path, indices = head, parsed
    if Path(path).suffix.lower() == ".npz" and Path(path).is_file() and holds_generated_sketches(path, split):
        sketches = [np.asarray(s, np.float32) for s in read_npz(path, SKETCHES_KEY)]  # model units already
        chosen = select_indices(len(sketches), indices, None, f"{path} [{SKETCHES_KEY}]")
        return [sketches[i] for i in chosen], class_hint(path)
    drawings = load_drawings(path, split=split, indices=indices)
    return [drawing_to_sketch(d) for d in drawings], class_hint(path)


def keep_strokes(sketch: np.ndarray, count: int) -> np.ndarray:
    """The first ``count`` strokes of a stroke-3 sketch (all of it when it has fewer)."""
    ends = np.flatnonzero(sketch[:, 2] > 0.5)
    return sketch[: ends[:count][-1] + 1] if ends.size else sketch


def as_stroke3(sketch: np.ndarray | Drawing) -> np.ndarray:
    """A stroke-3 sketch from the origin as it is, or a drawing (polylines) as one."""
    if isinstance(sketch, np.ndarray):
        return sketch
    return drop_start_row(drawing_to_stroke3(list(sketch)))


def class_key(name: str) -> str:
    """How class names compare: case-insensitive, spaces and underscores alike, a leading
    "the" optional (Quick, Draw!'s "The Eiffel Tower" is also "eiffel tower" and "Eiffel_Tower")."""
    key = " ".join(name.replace("_", " ").split()).casefold()
    return key.removeprefix("the ")


def find_class(classes: list[str], name: str) -> int | None:
    """The index of ``name`` in ``classes`` as ``class_key`` compares them, or None."""
    keys = [class_key(c) for c in classes]
    key = class_key(name)
    return keys.index(key) if key in keys else None
