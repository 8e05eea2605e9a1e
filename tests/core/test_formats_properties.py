"""Property tests of the sketch readers: whatever a file holds, reading it gives drawings or
one clean SketchplotError (one line), never another exception."""

import io
import json
import zipfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sketchplot.core.errors import SketchplotError
from sketchplot.core.formats import load_drawings, read_stroke3_file

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

numbers = st.one_of(
    st.integers(-(10**400), 10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
)
json_values = st.recursive(
    numbers,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["drawing", "word", "x"]), inner, max_size=3)
    ),
    max_leaves=30,
)
coordinates = st.lists(st.one_of(st.integers(-300, 300), st.floats(-1e308, 1e308)), min_size=0, max_size=6)
strokes = st.lists(
    st.one_of(st.tuples(coordinates, coordinates), st.tuples(coordinates, coordinates, coordinates), json_values),
    max_size=4,
)
records = st.one_of(
    json_values, st.builds(lambda s: {"drawing": [list(x) if isinstance(x, tuple) else x for x in s]}, strokes)
)


def check(read, path):
    try:
        result = read(path)
    except SketchplotError as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    assert isinstance(result, list)


def both_readers(path):
    check(load_drawings, path)
    check(lambda p: read_stroke3_file(p, "test"), path)


@SETTINGS
@given(lines=st.lists(st.one_of(records.map(json.dumps), st.text(max_size=30)), max_size=5))
def test_any_ndjson_reads_or_fails_cleanly(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("nd") / "x.ndjson"
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))  # lone surrogates: bad UTF-8
    both_readers(path)


@SETTINGS
@given(data=st.binary(max_size=200))
def test_random_bytes_as_any_input_fail_cleanly(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("bytes")
    for suffix in (".ndjson", ".npz", ".svg"):
        path = folder / f"x{suffix}"
        path.write_bytes(data)
        check(load_drawings, path)
        if suffix != ".svg":
            check(lambda p: read_stroke3_file(p, "test"), path)


arrays = st.one_of(
    st.lists(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=3, max_size=3), max_size=6).map(
        lambda rows: np.array(rows, dtype=np.float64).reshape(-1, 3)
    ),
    st.lists(st.integers(-(2**15), 2**15 - 1), max_size=12).map(lambda v: np.array(v, dtype=np.int16)),
    st.lists(st.floats(-1e308, 1e308), min_size=5, max_size=10).map(
        lambda v: np.array(v).reshape(-1, 5) if len(v) % 5 == 0 else np.array(v)
    ),
)


@SETTINGS
@given(sketches=st.lists(arrays, max_size=4), as_objects=st.booleans())
def test_any_npz_of_arrays_reads_or_fails_cleanly(tmp_path_factory, sketches, as_objects):
    path = tmp_path_factory.mktemp("npz") / "x.npz"
    if as_objects or not sketches:
        split = np.empty(len(sketches), dtype=object)
        split[:] = sketches
    else:
        split = sketches[0]
    np.savez(path, test=split, train=split)
    both_readers(path)


@SETTINGS
@given(member=st.binary(max_size=300), name=st.sampled_from(["test.npy", "train.npy", "test"]))
def test_an_npz_with_a_random_member_fails_cleanly(tmp_path_factory, member, name):
    path = tmp_path_factory.mktemp("zip") / "x.npz"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, np.lib.format.magic(1, 0) + member)
    path.write_bytes(buffer.getvalue())
    both_readers(path)


svg_numbers = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e308", "-1e308", "1e-320", "x", ""]),
)
svg_elements = st.one_of(
    st.tuples(svg_numbers, svg_numbers, svg_numbers, svg_numbers).map(
        lambda v: f'<path d="M {v[0]} {v[1]} L {v[2]} {v[3]}"/>'
    ),
    st.tuples(svg_numbers, svg_numbers, svg_numbers).map(lambda v: f'<circle cx="{v[0]}" cy="{v[1]}" r="{v[2]}"/>'),
    st.tuples(svg_numbers, svg_numbers).map(lambda v: f'<rect width="{v[0]}" height="{v[1]}"/>'),
    st.text(max_size=20),
)


@SETTINGS
@given(elements=st.lists(svg_elements, max_size=4), size=svg_numbers)
def test_any_svg_reads_or_fails_cleanly(tmp_path_factory, elements, size):
    path = tmp_path_factory.mktemp("svg") / "x.svg"
    body = "".join(elements)
    path.write_bytes(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}">{body}</svg>'.encode("utf-8", "surrogatepass")
    )
    check(load_drawings, path)
