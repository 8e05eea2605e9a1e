import dataclasses
import math

import numpy as np
import pytest

from sketchplot.core.grbl.planner import Axes, junction_speed_sqr, trapezoid_time
from sketchplot.core.profiles import load_profile
from sketchplot.gcode.estimate import estimate_gcode, format_duration
from sketchplot.gcode.writer import write_gcode
from sketchplot.plotter.pipeline import plot_page

SERVO = load_profile("a4-servo")  # accel 800 mm/s^2, max rate 8000 mm/min, deviation 0.01 mm


def line_time(length, v_max, accel):
    """Rest to rest along one line, worked out by hand: accelerate, cruise, brake."""
    ramp = v_max**2 / (2 * accel)
    if 2 * ramp <= length:
        return 2 * v_max / accel + (length - 2 * ramp) / v_max
    return 2 * math.sqrt(length / accel)


def test_single_long_line_accelerates_cruises_and_brakes():
    estimate = estimate_gcode("G21\nG90\nG1 X100 F3000\n", SERVO)
    assert estimate.seconds == pytest.approx(0.125 + (100 - 3.125) / 50)  # 50 mm/s, 800 mm/s^2
    assert estimate.naive_seconds == pytest.approx(2.0)
    assert estimate.pen_down_mm == pytest.approx(100)  # servo PWM off: the pen is down


def test_short_line_never_reaches_the_feed():
    estimate = estimate_gcode("G1 X1 F3000\n", SERVO)
    assert estimate.seconds == pytest.approx(2 * math.sqrt(1 / 800))


def test_diagonal_acceleration_is_limited_by_the_slower_axis():
    profile = dataclasses.replace(SERVO, acceleration=(800.0, 200.0))
    estimate = estimate_gcode("G1 X60 Y80 F3000\n", profile)
    assert estimate.seconds == pytest.approx(line_time(100, 50, 200 / 0.8))


def test_rapids_run_at_the_axis_max_rate():
    estimate = estimate_gcode("M3 S50\nG0 X100\n", SERVO)
    assert estimate.seconds == pytest.approx(line_time(100, 8000 / 60, 800))
    assert estimate.travel_mm == pytest.approx(100) and estimate.pen_down_mm == 0


def test_square_slows_down_at_each_corner_by_junction_deviation():
    square = "G1 X100 F3000\nG1 Y100\nG1 X0\nG1 Y0\n"
    accel, v = 800.0, 50.0
    corner_accel = accel * math.sqrt(2)  # junction direction is diagonal
    sin_half = math.sqrt(0.5)
    v_corner = math.sqrt(corner_accel * 0.01 * sin_half / (1 - sin_half))
    assert junction_speed_sqr(np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), Axes.of(SERVO), 0.01) == pytest.approx(
        v_corner**2
    )
    side = lambda v0, v1: trapezoid_time(100, v0, v1, v, accel)  # noqa: E731
    expected = side(0, v_corner) + 2 * side(v_corner, v_corner) + side(v_corner, 0)
    assert estimate_gcode(square, SERVO).seconds == pytest.approx(expected)
    no_cornering = dataclasses.replace(SERVO, junction_deviation=0.0)
    assert estimate_gcode(square, no_cornering).seconds == pytest.approx(4 * line_time(100, v, accel))
    assert estimate_gcode(square, SERVO).seconds < 4 * line_time(100, v, accel)


def test_straight_junctions_keep_full_speed():
    two_halves = estimate_gcode("G1 X50 F3000\nG1 X100\n", SERVO)
    assert two_halves.seconds == pytest.approx(line_time(100, 50, 800))


def test_dwells_and_pen_changes_stop_the_machine_and_add_time():
    with_dwell = estimate_gcode("G1 X50 F3000\nG4 P0.5\nG1 X100\n", SERVO)
    assert with_dwell.seconds == pytest.approx(2 * line_time(50, 50, 800) + 0.5)
    assert with_dwell.dwell_s == pytest.approx(0.5)
    pen = estimate_gcode("M3 S30\nG1 X50 F3000\nM3 S50\nG0 X100\n", SERVO)
    assert pen.seconds == pytest.approx(line_time(50, 50, 800) + line_time(50, 8000 / 60, 800))
    assert pen.pen_lifts == 1  # one pen-down stroke, ended by a lift


def test_z_moves_use_the_pen_z_feed():
    profile = load_profile("a4-zaxis")
    estimate = estimate_gcode("G0 Z3\nG1 Z0 F600\n", profile)
    assert estimate.seconds == pytest.approx(2 * line_time(3, 10, 500))


def test_written_gcode_matches_the_page_statistics(real_cats):
    result = plot_page(real_cats[:10], paper="a4")
    estimate = estimate_gcode(write_gcode(result.document, SERVO), SERVO)
    stats = result.stats_after
    assert estimate.pen_down_mm == pytest.approx(stats.pen_down_mm, rel=1e-3)
    assert estimate.pen_lifts == stats.pen_lifts
    assert estimate.travel_mm >= stats.pen_up_mm  # plus the way in and the way to park
    assert estimate.dwell_s == pytest.approx((2 * stats.pen_lifts + 1) * SERVO.pen.settle_s)
    assert 1.3 < estimate.optimism < 3.5  # length / feed is 1.6-2.7x optimistic


def test_estimate_reads_files(tmp_path):
    path = tmp_path / "job.gcode"
    path.write_text("G21\nG1 X10 F600\n")
    assert estimate_gcode(path, SERVO).moves == 1
    assert format_duration(3725) == "1h02m05s" and format_duration(65) == "1m05s"


def test_a_pen_change_pause_stops_the_machine_and_is_counted_not_timed():
    paused = estimate_gcode("G1 X50 F3000\nM0 (pen change: layer 2)\nG1 X100\n", SERVO)
    assert paused.seconds == pytest.approx(2 * line_time(50, 50, 800))  # two rest-to-rest runs, no wait
    assert paused.pen_changes == 1 and "1 pen change(s)" in paused.describe()
    straight = estimate_gcode("G1 X50 F3000\nG1 X100\n", SERVO)
    assert straight.pen_changes == 0 and "pen change" not in straight.describe()
    assert straight.seconds < paused.seconds


def test_the_planner_buffer_barely_slows_optimised_sketches(real_cats):
    """Corner arcs cut a stroke into many short moves; GRBL's 15-block buffer must still see
    far enough ahead for the estimate's speed through them."""
    profile = load_profile("a3-servo")
    gcode = write_gcode(plot_page(real_cats[:20], paper="a3", profile=profile).document, profile)
    buffered = estimate_gcode(gcode, profile).seconds
    assert buffered == pytest.approx(estimate_gcode(gcode, profile, planner_blocks=None).seconds, rel=0.01)
    assert buffered < estimate_gcode(gcode, profile, planner_blocks=2).seconds
