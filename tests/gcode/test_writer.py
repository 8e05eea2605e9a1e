import dataclasses

import numpy as np
import pytest
import vpype as vp

from sketchplot.core.grbl.interpreter import Interpreter, PenChange, clean_line
from sketchplot.core.profiles import available_profiles, load_profile
from sketchplot.gcode.estimate import estimate_gcode
from sketchplot.gcode.reader import pen_paths, read_gcode
from sketchplot.gcode.writer import (
    OutOfBoundsError,
    format_number,
    gcode_lines,
    pen_layers,
    safe_comment,
    to_machine_layers,
    write_gcode,
)
from sketchplot.plotter.layout import PX_PER_MM
from sketchplot.plotter.optimize import NO_OPTIMIZATION, OptimizeOptions
from sketchplot.plotter.pipeline import plot_page

SHIPPED = sorted(available_profiles())


def page_document(*lines_mm, page_mm=(297.0, 210.0)):
    lines = vp.LineCollection([np.asarray(line, dtype=complex) * PX_PER_MM for line in lines_mm])
    return vp.Document(lines, page_size=(page_mm[0] * PX_PER_MM, page_mm[1] * PX_PER_MM))


def g1_points(gcode: str) -> np.ndarray:
    """(x, y) of every G0/G1 line that has both words."""
    points = []
    for line in gcode.splitlines():
        words = dict((w[0], w[1:]) for w in line.split())
        if words.get("G") in ("0", "1") and "X" in words and "Y" in words:
            points.append((float(words["X"]), float(words["Y"])))
    return np.array(points)


def test_hand_drawn_square_keeps_its_size_and_orientation():
    """An 'L' plus a square, drawn by hand in stroke-3 (y down): start at the top-left
    corner, go right, then down. On a bottom-left-origin machine the top of the drawing
    must have the larger machine Y and the right side the larger machine X."""
    square = np.array([[0, 0, 0], [100, 0, 0], [0, 100, 0], [-100, 0, 0], [0, -100, 1]])
    profile = load_profile("a4-servo")
    result = plot_page([square], paper="a4", landscape=True, margin_mm=55, optimize=NO_OPTIMIZATION)
    gcode = write_gcode(result.document, profile)
    points = g1_points(gcode)
    corners = points[:5]  # the G0 to the start and the four G1 sides
    side = 210 - 2 * 55
    np.testing.assert_allclose(corners[0], [148.5 - side / 2, 105 + side / 2])  # top-left corner
    np.testing.assert_allclose(corners[1], [148.5 + side / 2, 105 + side / 2])  # right: +X
    np.testing.assert_allclose(corners[2], [148.5 + side / 2, 105 - side / 2])  # down the paper: -Y
    np.testing.assert_allclose(corners[3], [148.5 - side / 2, 105 - side / 2])
    np.testing.assert_allclose(corners[4], corners[0])


def test_top_left_origin_machine_keeps_y_down():
    profile = dataclasses.replace(load_profile("a4-servo"), origin="top-left")
    gcode = write_gcode(page_document([10 + 20j, 30 + 50j]), profile)
    np.testing.assert_allclose(g1_points(gcode)[:2], [[10, 20], [30, 50]])


def test_bounds_are_checked_before_any_output():
    profile = load_profile("a4-servo")
    with pytest.raises(OutOfBoundsError) as info:
        gcode_lines(page_document([10 + 10j, 300 + 20j]), profile)
    message = str(info.value)
    assert "(300, 190)" in message and "x > 297" in message and "\n" not in message
    portrait = plot_page([np.array([[0, 0, 0], [10, 300, 1]])], paper="a4", landscape=False)
    with pytest.raises(OutOfBoundsError, match="y > 210"):
        write_gcode(portrait.document, profile)


def test_points_that_round_to_the_same_value_give_no_zero_length_moves():
    profile = load_profile("a4-servo")  # 2 decimals
    gcode = write_gcode(page_document([10, 10.001, 10.002, 20, 20.001]), profile)
    assert [line for line in gcode.splitlines() if line.startswith("G1")] == ["G1 X20 Y210 F3000"]


def test_a_dot_is_a_pen_down_and_up_without_motion():
    gcode = gcode_lines(page_document([5 + 5j, 5 + 5j]), load_profile("a4-servo"))
    assert not any(line.startswith("G1") for line in gcode)
    assert gcode.count("M3 S30") == 1


def test_number_format_and_comment_sanitising():
    assert format_number(12.5, 2) == "12.5" and format_number(-0.001, 2) == "0" and format_number(3, 0) == "3"
    assert safe_comment("what? (cat) ~ ! é") == "(what cat)"


def check_grbl_rules(gcode: str, profile) -> None:
    """The GRBL facts the writer must respect, line by line, with the reader as GRBL's interpreter."""
    lines = gcode.splitlines()
    assert lines[1:3] == ["G21", "G90"]
    assert ("$H" in lines) == profile.homing
    for line in lines:
        assert line.isascii() and not set("?!~") & set(line), line
        assert len(clean_line(line)) <= 79
    interpreter = Interpreter(profile)
    blocks = read_gcode(gcode)
    for block, following in zip(blocks, blocks[1:] + [None]):
        xy_move = block.text[:2] in ("G0", "G1") and ("X" in block.text or "Y" in block.text)
        if xy_move:  # raises error:22 if no feed word came first
            assert interpreter.pen_down is (block.text[:2] == "G1"), f"line {block.line_no}: {block.raw}"
        events = interpreter.execute(block)
        for change in (event for event in events if isinstance(event, PenChange)):
            settle = profile.pen.settle_after(change.down)
            if settle > 0:
                dwell = f"G4P{format_number(settle, 3)}"
                assert following is not None and following.text == dwell, f"no dwell after line {block.line_no}"
    assert interpreter.pen_down is False, "the job must end with the pen up"
    assert tuple(round(v, 6) for v in interpreter.position[:2]) == profile.park_position
    end_words = {"M2", "M30", "M5"} & set(" ".join(lines).split())
    if profile.pen.method == "servo" and not profile.program_end:
        assert not end_words
    else:
        assert lines[-1] == profile.program_end


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_profile_writes_valid_gcode(name, real_cats):
    profile = load_profile(name)
    result = plot_page(real_cats[:6], paper=profile.paper, landscape=profile.landscape)
    gcode = write_gcode(result.document, profile, title="cats ?!~")
    check_grbl_rules(gcode, profile)


def test_twenty_real_cats_round_trip_through_the_reader(real_cats):
    profile = load_profile("a3-servo")
    result = plot_page(real_cats[:20], paper="a3", grid=(4, 5), optimize=OptimizeOptions())
    page_w, page_h = (v / PX_PER_MM for v in result.document.page_size)
    exact = []
    for line in result.document.layers[1].lines:
        mx, my = profile.page_to_machine(line.real / PX_PER_MM, line.imag / PX_PER_MM, page_h, page_w)
        exact.append(np.column_stack([mx, my]))
    rounded = [path for _, paths in to_machine_layers(result.document, profile) for path in paths]
    read_back = pen_paths(read_gcode(write_gcode(result.document, profile)), profile)
    drawn = [i for i, path in enumerate(rounded) if np.ptp(path, axis=0).any()]  # dots draw no line
    assert len(read_back) == len(drawn) >= 20
    tolerance = 0.5 * 10.0**-profile.decimals + 1e-9
    for got, i in zip(read_back, drawn):
        kept = np.r_[True, np.any(np.diff(rounded[i], axis=0) != 0, axis=1)]  # no zero-length moves
        np.testing.assert_allclose(got, exact[i][kept], atol=tolerance)


def two_pen_document(second_layer_id=2):
    """Layer 1: an 'L' and a dash; an empty layer in between; ``second_layer_id``: a triangle."""
    document = page_document([20 + 20j, 60 + 20j, 60 + 50j], [80 + 80j, 100 + 90j])
    document.add(vp.LineCollection([np.array([150 + 100j, 180 + 120j, 150 + 150j]) * PX_PER_MM]), second_layer_id)
    return document


@pytest.mark.parametrize("name", SHIPPED)
def test_two_layers_park_and_pause_once_between_pens(name):
    profile = load_profile(name)
    document = two_pen_document(3)
    assert pen_layers(document) == [1, 3]
    gcode = write_gcode(document, profile)
    check_grbl_rules(gcode, profile)
    lines = gcode.splitlines()
    pauses = [i for i, line in enumerate(lines) if clean_line(line) in ("M0", "M00")]
    assert len(pauses) == 1 and lines[pauses[0]] == "M0 (pen change: layer 3)"
    before, after = "\n".join(lines[: pauses[0]]), "\n".join(lines[pauses[0] + 1 :])
    park = profile.park_position
    assert g1_points(before)[-1] == pytest.approx(park)  # the last move before M0 is the park travel
    interpreter = Interpreter(profile)
    for block in read_gcode(before):
        interpreter.execute(block)
    assert not interpreter.pen_down  # pen up before travelling to park
    layers = to_machine_layers(document, profile)
    assert [layer_id for layer_id, _ in layers] == [1, 3]
    drawn = [p.tolist() for p in pen_paths(read_gcode(gcode), profile)]
    assert drawn == [p.tolist() for _, paths in layers for p in paths]
    assert len(pen_paths(read_gcode(before), profile)) == len(layers[0][1]) == 2  # layer 1, all of it, before M0
    first_move = next(line for line in after.splitlines() if "X" in line)
    assert first_move.startswith("G0") and g1_points(first_move)[0] == pytest.approx(layers[1][1][0][0])


def test_one_layer_has_no_pause_and_keeps_its_exact_output():
    gcode = write_gcode(page_document([20 + 20j, 60 + 20j]), load_profile("a4-servo"), title="one")
    assert gcode == (
        "(sketchplot one for a4-servo)\nG21\nG90\nM3 S50\nG4 P0.15\nG0 X20 Y190\nM3 S30\nG4 P0.15\n"
        "G1 X60 Y190 F3000\nM3 S50\nG4 P0.15\nG0 X0 Y0\n"
    )


def test_the_work_area_check_covers_every_layer_before_any_output():
    document = two_pen_document()
    document.add(vp.LineCollection([np.array([10 + 10j, 400 + 10j]) * PX_PER_MM]), 2)
    with pytest.raises(OutOfBoundsError, match="page 400.0, 10.0 mm"):
        gcode_lines(document, load_profile("a4-servo"))


def test_the_pen_settles_apart_after_going_up_and_after_going_down(real_cats):
    profile = load_profile("a3-servo")
    profile = dataclasses.replace(profile, pen=dataclasses.replace(profile.pen, settle_s=0.2, lift_settle_s=0.05))
    gcode = write_gcode(plot_page(real_cats[:3], paper="a3", profile=profile).document, profile)
    check_grbl_rules(gcode, profile)
    lines = gcode.splitlines()
    after = {line: lines[k + 1] for k, line in enumerate(lines[:-1]) if line.startswith("M3")}
    assert after == {"M3 S25": "G4 P0.2", "M3 S60": "G4 P0.05"}
    estimate = estimate_gcode(gcode, profile)
    assert estimate.dwell_s == pytest.approx(estimate.pen_lifts * 0.25 + 0.05)  # and the first lift
