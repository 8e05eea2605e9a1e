import numpy as np
import pytest

from sketchplot.core.formats import SketchError, from_origin, split_polylines, stroke5_to_stroke3, strokes_to_polylines
from sketchplot.plotter.layout import polylines_extent


def test_row_zero_is_the_absolute_start_and_lifts_end_strokes():
    strokes = np.array([[10, 20, 0], [5, 0, 1], [0, 10, 0], [-5, 0, 1]], dtype=np.int16)
    lines = strokes_to_polylines(strokes)
    assert len(lines) == 2
    np.testing.assert_array_equal(lines[0], [10 + 20j, 15 + 20j])
    np.testing.assert_array_equal(lines[1], [15 + 30j, 10 + 30j])


def test_points_after_the_last_lift_form_a_final_stroke():
    lines = strokes_to_polylines(np.array([[0, 0, 1], [3, 4, 0], [1, 1, 0]], dtype=float))
    assert [len(line) for line in lines] == [1, 2]


def test_y_is_kept_pointing_down():
    lines = strokes_to_polylines(np.array([[0, 0, 0], [0, 7, 1]]))
    assert lines[0][1].imag == 7  # moving "down" the sketch grows y, nothing flipped


def test_stroke5_stops_at_the_end_token():
    s5 = np.array(
        [[1, 2, 1, 0, 0], [3, 0, 0, 1, 0], [0, 5, 1, 0, 0], [1, 1, 0, 1, 0], [0, 0, 0, 0, 1], [9, 9, 1, 0, 0]],
        dtype=float,
    )
    np.testing.assert_array_equal(stroke5_to_stroke3(s5)[:, 2], [0, 1, 0, 1])
    lines = strokes_to_polylines(s5)
    np.testing.assert_array_equal(lines[0], [1 + 2j, 4 + 2j])
    np.testing.assert_array_equal(lines[1], [4 + 7j, 5 + 8j])


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((0, 3)), "empty"),
        (np.array([[0, 0, 0, 0, 1]]), "empty"),
        (np.array([[0.0, np.nan, 0], [1, 1, 1]]), "NaN"),
        (np.array([[0.0, 1, 0], [np.inf, 1, 1]]), "row 1"),
        (np.zeros((4, 4)), "shape"),
    ],
)
def test_unusable_sketches_raise_one_line_errors(bad, message):
    with pytest.raises(SketchError, match=message) as info:
        strokes_to_polylines(bad, "cat 3")
    assert "\n" not in str(info.value) and str(info.value).startswith("cat 3")


def test_real_cats_give_one_polyline_per_stroke(real_cats):
    for sketch in real_cats[:50]:
        lines = strokes_to_polylines(sketch)
        assert len(lines) == int(sketch[:, 2].sum()) + (sketch[-1, 2] == 0)
        assert sum(len(line) for line in lines) == len(sketch)
        xmin, ymin, xmax, ymax = polylines_extent(lines)
        assert xmax - xmin <= 255 and ymax - ymin <= 255


def test_from_origin_makes_the_first_row_draw():
    sample = np.array([[10, 0, 0], [0, 5, 1]], dtype=np.float32)
    (line,) = strokes_to_polylines(from_origin(sample))
    np.testing.assert_allclose(line, [0, 10, 10 + 5j])


def test_split_polylines_cuts_a_stroke_that_crosses_the_split_and_shares_its_point():
    # origin row, a 3-point stroke of the prefix, then the continuation carries on drawing
    strokes = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0], [5, 5, 1], [3, 3, 0], [1, 0, 1]], dtype=float)
    before, after = split_polylines(strokes, 3)
    assert [line.tolist() for line in before] == [[0, 10, 10 + 10j]]
    assert [line.tolist() for line in after] == [[10 + 10j, 15 + 15j], [18 + 18j, 19 + 18j]]


def test_split_polylines_at_a_stroke_end_leaves_no_shared_point():
    strokes = np.array([[0, 0, 0], [10, 0, 1], [0, 10, 0], [5, 0, 1]], dtype=float)
    before, after = split_polylines(strokes, 2)
    assert [line.tolist() for line in before] == [[0, 10]]
    assert [line.tolist() for line in after] == [[10 + 10j, 15 + 10j]]
    assert split_polylines(strokes, 4)[1] == []
