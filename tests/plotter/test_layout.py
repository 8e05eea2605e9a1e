import numpy as np
import pytest

from sketchplot.plotter.layout import (
    PX_PER_MM,
    LayoutError,
    auto_grid,
    layout_grid,
    paper_size_mm,
    parse_grid,
    polylines_extent,
)


def rectangle(width, height, left=0.0, top=0.0):
    return [np.array([0, width, width + 1j * height, 1j * height, 0]) + complex(left, top)]


def page_lines_mm(document):
    return [line / PX_PER_MM for line in document.layers[1].lines]


@pytest.mark.parametrize(
    "paper, landscape, expected",
    [
        ("a4", True, (297, 210)),
        ("A4", False, (210, 297)),
        ("a3", True, (420, 297)),
        ("letter", None, (215.9, 279.4)),
        ("200x150", None, (200, 150)),
        ("200x150", False, (150, 200)),
        ("10cmx5cm", None, (100, 50)),
    ],
)
def test_paper_sizes(paper, landscape, expected):
    assert paper_size_mm(paper, landscape) == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize("paper", ["b7", "tight", "200x", "x"])
def test_unknown_paper_is_refused(paper):
    with pytest.raises(LayoutError, match="unknown paper"):
        paper_size_mm(paper)


def test_parse_grid():
    assert parse_grid("4x5") == (4, 5)
    for bad in ("4", "0x3", "axb"):
        with pytest.raises(LayoutError, match="bad grid"):
            parse_grid(bad)


def test_single_drawing_is_centred_and_scaled_keeping_aspect():
    document = layout_grid([rectangle(100, 50, left=7, top=-3)], page_mm=(200, 150), margin_mm=10)
    assert document.page_size == pytest.approx((200 * PX_PER_MM, 150 * PX_PER_MM))
    xmin, ymin, xmax, ymax = polylines_extent(page_lines_mm(document))
    assert (xmin, xmax) == pytest.approx((10, 190))  # width limits: 180 mm
    assert (ymin, ymax) == pytest.approx((30, 120))  # height follows the aspect ratio, centred


def test_grid_fills_cells_row_by_row():
    drawings = [rectangle(10, 10) for _ in range(3)]
    document = layout_grid(drawings, page_mm=(100, 100), grid=(2, 2), margin_mm=0, gutter_mm=10)
    squares = page_lines_mm(document)
    extents = [polylines_extent([line]) for line in squares]
    assert extents[0] == pytest.approx((0, 0, 45, 45))
    assert extents[1] == pytest.approx((55, 0, 100, 45))
    assert extents[2] == pytest.approx((0, 55, 45, 100))


def test_auto_grid_prefers_large_cells():
    assert auto_grid(1, 100, 100) == (1, 1)
    assert auto_grid(4, 100, 100) == (2, 2)
    assert auto_grid(3, 300, 100) == (1, 3)
    rows, cols = auto_grid(100, 400, 277)
    assert rows * cols >= 100


def test_dots_survive_as_zero_length_lines():
    document = layout_grid([[np.array([5 + 5j]), np.array([0, 10 + 10j])]], page_mm=(100, 100))
    lines = document.layers[1].lines
    assert len(lines) == 2 and len(lines[0]) == 2 and lines[0][0] == lines[0][1]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(grid=(1, 1)), "2 drawings"),
        (dict(margin_mm=60), "margin"),
        (dict(grid=(1, 2), gutter_mm=200), "gutter"),
    ],
)
def test_impossible_layouts_are_refused(kwargs, message):
    with pytest.raises(LayoutError, match=message):
        layout_grid([rectangle(1, 1), rectangle(1, 1)], page_mm=(100, 100), **kwargs)


def test_line_layers_put_lines_in_their_layer_with_one_scale_per_drawing():
    drawing = rectangle(10, 10) + [np.array([0, 20 + 20j])]  # the diagonal makes the drawing 20 x 20
    document = layout_grid(
        [drawing, rectangle(5, 5)], page_mm=(200, 100), grid=(1, 2), margin_mm=0, gutter_mm=0, line_layers=[[1, 2], [1]]
    )
    assert sorted(document.layers) == [1, 2]
    assert len(document.layers[1].lines) == 2 and len(document.layers[2].lines) == 1
    square, diagonal = document.layers[1].lines[0] / PX_PER_MM, document.layers[2].lines[0] / PX_PER_MM
    assert np.ptp(square.real) == pytest.approx(50.0)  # half of the 100 mm cell: scaled with the diagonal
    assert diagonal[0] == pytest.approx(square[0])
    with pytest.raises(LayoutError, match="drawing 1: 1 lines but 2 layer ids"):
        layout_grid([drawing, rectangle(5, 5)], page_mm=(200, 100), line_layers=[[1, 2], [1, 2]])
