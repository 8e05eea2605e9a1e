import math

import numpy as np
import pytest

from sketchplot.core.grbl.interpreter import (
    Dwell,
    GCodeError,
    Interpreter,
    Motion,
    Pause,
    PenChange,
    clean_line,
    line_comment,
    parse_line,
)
from sketchplot.core.profiles import load_profile
from sketchplot.gcode.reader import pen_paths, read_gcode

SERVO = load_profile("a4-servo")
ZAXIS = load_profile("a4-zaxis")


def run(text, profile=SERVO):
    interpreter = Interpreter(profile)
    events = [e for block in read_gcode(text) for e in interpreter.execute(block)]
    return interpreter, events


def test_clean_line_strips_comments_whitespace_and_case():
    assert clean_line("g1 x1.5 (move) y2 ; to the corner") == "G1X1.5Y2"
    assert clean_line("  ; only a comment") == ""
    assert parse_line("(just a comment)") is None


def test_parse_line_words_and_line_numbers():
    block = parse_line("G1 X-1.5 Y.25 F3000", 7)
    assert block.line_no == 7 and block.text == "G1X-1.5Y.25F3000"
    assert block.words == (("G", 1.0), ("X", -1.5), ("Y", 0.25), ("F", 3000.0))
    assert parse_line("$H").is_system


@pytest.mark.parametrize(
    "line, code",
    [("G1 X1.2.3", 2), ("G1 X", 2), ("1 X2", 1), ("G1 X1 X2 F100", 25)],
)
def test_parse_and_execute_errors_carry_grbl_codes(line, code):
    with pytest.raises(GCodeError) as info:
        run(line + "\n")
    assert info.value.code == code and info.value.line_no == 1
    assert f"(error:{code})" in str(info.value) and "\n" not in str(info.value)


def test_gcode_error_message_format():
    with pytest.raises(GCodeError, match=r"^line 12: 'G1 X1.2.3': bad number format \(error:2\)$"):
        parse_line("G1 X1.2.3", 12)


@pytest.mark.parametrize(
    "text, code",
    [
        ("G1 X10\n", 22),  # no feed rate yet
        ("G5 X1\n", 20),  # unsupported G
        ("M6\n", 20),
        ("G1 X1 A2 F100\n", 20),  # A axis unsupported on a plotter
        ("G0 G1 X1\n", 21),  # two motion commands
        ("G92\n", 26),  # G92 needs axis words
        ("G80 X1\n", 31),
        ("G4\n", 28),  # dwell without P
        ("G1 X1 F-5\n", 4),
        ("G0 X1 P3\n", 36),  # P unused
        ("G2 X10 F100\n", 35),  # arc without offsets
        ("G2 I5 F100\n", 32),  # arc without in-plane axis words
        ("G2 X10 Y0 I1 F100\n", 33),  # end point not on the circle
        ("G54.5\n", 23),
    ],
)
def test_interpreter_rejects_what_grbl_rejects(text, code):
    with pytest.raises(GCodeError) as info:
        run(text)
    assert info.value.code == code


def test_units_distance_modes_offsets_and_feed():
    interpreter, events = run("G20 G90\nG0 X1 Y1\nG91\nG1 X1 F10\nG21 G90\nG92 X0 Y0\nG0 X5\nG92.1\nG0 X5\n")
    motions = [e for e in events if isinstance(e, Motion)]
    assert motions[0].end == pytest.approx((25.4, 25.4, 0.0))
    assert motions[1].end == pytest.approx((50.8, 25.4, 0.0))
    assert motions[1].feed == pytest.approx(254.0)  # 10 in/min
    assert motions[0].rapid and motions[0].feed == min(SERVO.max_rate)
    assert motions[2].end == pytest.approx((55.8, 25.4, 0.0))  # G92 offset applied
    assert motions[3].end == pytest.approx((5.0, 25.4, 0.0))  # offset cleared
    assert interpreter.feed == pytest.approx(254.0)


def test_servo_pen_rule_dwell_and_program_end():
    interpreter, events = run("M3 S50\nG0 X10\nM3 S30\nG4 P0.15\nG1 X20 F3000\nM5\nM3 S50\nM2\n")
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["PenChange", "Motion", "PenChange", "Dwell", "Motion", "PenChange", "PenChange"]
    assert [e.pen_down for e in events if isinstance(e, Motion)] == [False, True]
    assert isinstance(events[3], Dwell) and events[3].seconds == pytest.approx(0.15)
    # power-on servo = down; S50 lifts; S30 drops; M5 keeps it down; S50 lifts; M2 drops it
    assert [e.down for e in events if isinstance(e, PenChange)] == [False, True, False, True]
    assert interpreter.pen_down and not interpreter.spindle_on


def test_z_pen_rule():
    _, events = run("G0 Z3\nG0 X10\nG1 Z0 F600\nG1 X20 F2000\nG0 Z3\n", ZAXIS)
    downs = [(type(e).__name__, e.pen_down if isinstance(e, Motion) else e.down) for e in events]
    assert downs == [
        ("Motion", False),
        ("PenChange", False),
        ("Motion", False),
        ("Motion", False),
        ("PenChange", True),
        ("Motion", True),
        ("Motion", False),
        ("PenChange", False),
    ]


def test_arcs_follow_the_circle_with_grbl_chord_tolerance():
    _, events = run("M3 S30\nG0 X20 Y10\nG2 X30 Y10 I5 J0 F1000\nG3 X25 Y15 R5\n")
    arc = [e for e in events if isinstance(e, Motion) and e.line_no == 3]
    assert len(arc) > 20
    for m in arc:
        assert math.dist(m.end[:2], (25, 10)) == pytest.approx(5.0)
        mid = ((m.start[0] + m.end[0]) / 2, (m.start[1] + m.end[1]) / 2)
        assert 5.0 - math.dist(mid, (25, 10)) <= 0.0021
    assert max(m.end[1] for m in arc) == pytest.approx(15.0, abs=0.01)  # G2 from the left goes over the top
    ccw = [e for e in events if isinstance(e, Motion) and e.line_no == 4]
    assert all(math.dist(m.end[:2], (25, 10)) == pytest.approx(5.0) for m in ccw)  # the short arc
    assert ccw[-1].end == pytest.approx((25.0, 15.0, 0.0)) and len(ccw) > 10


def test_pen_paths_joins_consecutive_pen_down_moves():
    text = "M3 S50\nG0 X10 Y10\nM3 S30\nG1 X20 F3000\nG1 Y20\nM3 S50\nG0 X50\nM3 S30\nG1 X60\nM3 S50\n"
    paths = pen_paths(read_gcode(text), SERVO)
    assert len(paths) == 2
    np.testing.assert_allclose(paths[0], [[10, 10], [20, 10], [20, 20]])
    np.testing.assert_allclose(paths[1], [[50, 20], [60, 20]])


def test_read_gcode_accepts_paths_and_text(tmp_path):
    path = tmp_path / "a.gcode"
    path.write_text("; header\n\nG21\nG0 X1\n")
    blocks = read_gcode(path)
    assert [b.line_no for b in blocks] == [3, 4]
    assert read_gcode(str(path)) == blocks
    assert [b.text for b in read_gcode("G21\nG0 X1\n")] == ["G21", "G0X1"]


def test_modal_lines_restore_state_without_motion():
    interpreter, _ = run("G20 G91\nG1 X1 F10\nM3 S30\n")
    fresh = Interpreter(SERVO)
    fresh.position = interpreter.position
    for line in interpreter.modal_lines():
        assert not [e for e in fresh.execute(parse_line(line)) if isinstance(e, Motion)]
    assert (fresh.inches, fresh.incremental, fresh.spindle_on, fresh.s_value) == (True, True, True, 30)
    assert fresh.feed == pytest.approx(interpreter.feed)


def test_m0_pauses_after_the_block_motion_and_m1_is_ignored_like_grbl():
    interpreter, events = run("G21 G90\nG1 X10 F3000 M0 (pen change: layer 2)\nM1\nX20\n")
    assert [type(e).__name__ for e in events] == ["Motion", "Pause", "Motion"]
    assert events[1] == Pause(2)  # program flow runs after the block's motion
    assert interpreter.motion_mode == 1.0 and interpreter.feed == 3000  # M0 keeps the modal state
    assert line_comment("M0 (pen change: layer 2)") == "pen change: layer 2"
    assert line_comment("G1 X1") == ""
    with pytest.raises(GCodeError, match="error:21"):
        run("M0 M2\n")  # same modal group (program flow)
