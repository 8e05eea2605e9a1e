"""Quick, Draw! files as the model and the plotter read them: sketch-rnn ``.npz`` splits and
ndjson drawings, simplified or raw.

Torch-free on purpose: the plot pipeline reads its inputs through this module too, so both
layers read the same files the same way and apply exactly the same treatment to raw drawings
(Google's: align to the top-left corner, scale the longest side to 255, Ramer-Douglas-Peucker
with epsilon 2).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import shapely

from sketchplot.errors import SketchplotError

Drawing = list[np.ndarray]  # complex polylines, y down

RAW_LONGEST_SIDE = 255.0
RAW_RDP_EPSILON = 2.0


class InputError(SketchplotError):
    """An input file or record that is missing, unreadable or does not hold what was asked for."""


MAX_NPZ_MEMBER_BYTES = 512 * 2**20  # the largest Quick, Draw! class file holds about 20 MB

# What numpy's pickle of an object array of numeric arrays refers to, and nothing else: any
# other global in the file (os.system, builtins.eval, ...) is refused before it is looked up.
_NUMPY_ARRAY_GLOBALS = {
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Rebuilds plain numpy arrays from a sketch-rnn npz member; refuses every other object."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _NUMPY_ARRAY_GLOBALS:
            raise pickle.UnpicklingError(f"refused to load '{module}.{name}' (only numeric arrays are read)")
        return super().find_class(module, name)


def _read_npy_member(archive: zipfile.ZipFile, member: str) -> np.ndarray:
    """One ``.npy`` member: numeric arrays directly, object arrays through the array-only unpickler."""
    info = archive.getinfo(member)
    if info.file_size > MAX_NPZ_MEMBER_BYTES:
        raise ValueError(f"member {member} is {info.file_size / 2**20:.0f} MiB (at most {MAX_NPZ_MEMBER_BYTES // 2**20})")
    stream = io.BytesIO(archive.read(member))
    version = np.lib.format.read_magic(stream)
    header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = header(stream)
    if not dtype.hasobject:
        stream.seek(0)
        return np.lib.format.read_array(stream, allow_pickle=False)
    array = _ArrayOnlyUnpickler(stream, encoding="latin1").load()
    if not isinstance(array, np.ndarray) or array.shape != shape:
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
    from sketchplot.atomic import atomic_open

    array = np.empty(len(sketches), dtype=object)
    array[:] = [np.asarray(s, dtype=np.float32) for s in sketches]
    extra = {} if max_len is None else {LENGTH_CAP_KEY: np.int64(max_len)}
    try:
        with atomic_open(path, "wb") as handle:
            np.savez(handle, **{SKETCHES_KEY: array}, **extra)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
