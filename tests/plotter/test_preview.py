import numpy as np
import pytest
import vpype as vp

from sketchplot.plotter.preview import TRAVEL_COLOUR, preview_svg, travel_lines, write_preview


def two_line_document():
    return vp.Document(vp.LineCollection([np.array([0, 10]), np.array([20, 30 + 5j])]), page_size=(100.0, 80.0))


def test_travel_lines_join_each_end_to_the_next_start():
    travel = travel_lines(two_line_document())
    assert len(travel) == 1
    np.testing.assert_array_equal(travel.lines[0], [10, 20])


def test_preview_shows_travel_in_a_second_colour_only_when_asked(tmp_path):
    with_travel = preview_svg(two_line_document(), show_travel=True)
    without = preview_svg(two_line_document())
    assert "pen-up travel" in with_travel and "pen-up travel" not in without
    assert vp.Color(TRAVEL_COLOUR).as_rgb_hex() in with_travel.lower()
    path = tmp_path / "p.svg"
    write_preview(two_line_document(), path)
    lines, width, height = vp.read_svg(str(path), quantization=0.1)
    assert (width, height) == pytest.approx((100.0, 80.0), abs=1e-3) and len(lines) == 2


def test_each_pen_layer_gets_its_own_colour():
    document = two_line_document()
    document.add(vp.LineCollection([np.array([40, 50j])]), 2)
    svg = preview_svg(document)
    assert 'label="ink 1" stroke="#000000"' in svg and 'label="ink 2" stroke="#1565c0"' in svg
