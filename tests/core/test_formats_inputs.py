import json

import numpy as np
import pytest

from sketchplot.core.errors import SketchplotError
from sketchplot.core.formats import (
    InputError,
    drawing_to_stroke3,
    load_drawings,
    read_ndjson,
    simplify_raw_drawing,
    strokes_to_polylines,
)
from sketchplot.plotter.layout import polylines_extent
from sketchplot.plotter.preview import write_preview


def test_npz_selection_by_index_and_limit(cat_npz, real_cats):
    chosen = load_drawings(cat_npz, split="test", indices=[3, 0])
    assert len(chosen) == 2
    for got, want in zip(chosen[0], strokes_to_polylines(real_cats[3])):
        np.testing.assert_array_equal(got, want)
    assert len(load_drawings(cat_npz, limit=5)) == 5
    assert len(load_drawings(cat_npz)) == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(split="nope"), "no split 'nope'"),
        (dict(indices=[10**7]), "out of range"),
        (dict(limit=0), "at least 1"),
        (dict(indices=[1], limit=2), "not both"),
    ],
)
def test_npz_bad_selection(cat_npz, kwargs, message):
    with pytest.raises(InputError, match=message):
        load_drawings(cat_npz, **kwargs)


def test_npz_with_a_nan_sketch_is_refused(tmp_path):
    path = tmp_path / "bad.npz"
    sketches = np.empty(1, dtype=object)
    sketches[0] = np.array([[0.0, np.nan, 1]])
    np.savez(path, test=sketches)
    with pytest.raises(SketchplotError, match="NaN"):
        load_drawings(path)


def test_simplified_ndjson(tmp_path):
    record = {"word": "cat", "drawing": [[[0, 10, 20], [0, 5, 0]], [[3], [3]]]}
    path = tmp_path / "cats.ndjson"
    path.write_text(json.dumps(record) + "\n\n" + json.dumps(record) + "\n")
    drawings = read_ndjson(path, limit=5)
    assert len(drawings) == 2
    np.testing.assert_array_equal(drawings[0][0], [0, 10 + 5j, 20])


def test_raw_ndjson_gets_googles_treatment(tmp_path):
    xs = [100.0, 150.0, 200.0, 300.0, 300.0]  # three collinear points and a corner
    ys = [50.0, 50.4, 50.0, 50.0, 150.0]
    record = {"drawing": [[xs, ys, [0, 10, 20, 30, 40]]]}
    path = tmp_path / "raw.ndjson"
    path.write_text(json.dumps(record) + "\n")
    (drawing,) = load_drawings(path)
    xmin, ymin, xmax, ymax = polylines_extent(drawing)
    assert (xmin, ymin, xmax) == pytest.approx((0, 0, 255))  # aligned top-left, longest side 255
    np.testing.assert_allclose(drawing[0], [0, 255, 255 + 127.5j])  # RDP epsilon 2 dropped the wiggle


def test_raw_simplification_keeps_dots():
    drawing = simplify_raw_drawing([np.array([0, 10 + 10j]), np.array([5 + 5j])])
    assert len(drawing[1]) == 1


def test_ndjson_errors(tmp_path):
    path = tmp_path / "bad.ndjson"
    path.write_text('{"drawing": [[[1, 2], [3, 4]]]}\n{not json\n')
    with pytest.raises(InputError, match="sketch 1: bad JSON"):
        read_ndjson(path, indices=[1])
    path.write_text('{"drawing": []}\n')
    with pytest.raises(InputError, match="empty"):
        read_ndjson(path)


def test_svg_through_vpype(tmp_path):
    import vpype as vp

    document = vp.Document(
        vp.LineCollection([np.array([10, 50 + 20j]), np.array([5j, 30 + 5j])]), page_size=(100.0, 100.0)
    )
    path = tmp_path / "in.svg"
    write_preview(document, path)
    (drawing,) = load_drawings(path)
    assert len(drawing) == 2
    with pytest.raises(InputError, match="one drawing"):
        load_drawings(path, limit=2)


@pytest.mark.parametrize("name, message", [("missing.npz", "not found"), ("x.txt", "unsupported")])
def test_bad_files(tmp_path, name, message):
    if name.endswith(".txt"):
        (tmp_path / name).write_text("hello")
    with pytest.raises(InputError, match=message):
        load_drawings(tmp_path / name)


def test_drawing_to_stroke3_inverts_strokes_to_polylines():
    drawing = [np.array([3 + 4j, 10 + 4j, 10 + 9j]), np.array([1 + 1j])]
    strokes = drawing_to_stroke3(drawing)
    assert strokes[0].tolist() == [3, 4, 0] and strokes[:, 2].tolist() == [0, 0, 1, 1]
    back = strokes_to_polylines(strokes)
    assert len(back) == 2
    np.testing.assert_allclose(back[0], drawing[0])
    np.testing.assert_allclose(back[1], drawing[1])
