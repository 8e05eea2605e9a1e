"""GRBL's planner looks ahead only through its buffer: a move leaves no faster than the machine
can brake to a stop within the moves buffered behind it."""

import math

import pytest

from sketchplot.core.grbl.interpreter import Motion
from sketchplot.core.grbl.planner import Axes, run_time
from sketchplot.core.grbl.protocol import PLANNER_BLOCKS
from sketchplot.core.profiles import load_profile

PROFILE = load_profile("a4-servo")  # 800 mm/s^2, draw feed 3000 mm/min = 50 mm/s
AXES = Axes.of(PROFILE)
ACCEL, FEED = 800.0, 50.0


def straight_run(count: int, step: float) -> list[Motion]:
    return [
        Motion((k * step, 0.0, 0.0), ((k + 1) * step, 0.0, 0.0), False, 60 * FEED, True, k + 1) for k in range(count)
    ]


def test_tiny_moves_in_a_row_are_slowed_by_the_buffer():
    step, count = 0.05, 2000  # 100 mm in 0.05 mm moves: 14 buffered behind the running one = 0.7 mm
    moves = straight_run(count, step)
    capped = math.sqrt(2 * ACCEL * (PLANNER_BLOCKS - 1) * step)  # can still stop within them: 33.5 mm/s
    assert capped < FEED
    assert run_time(moves, AXES, 0.01) == pytest.approx(count * step / capped, rel=0.02)
    assert run_time(moves, AXES, 0.01, blocks=None) == pytest.approx(100 / FEED + FEED / ACCEL, rel=1e-6)


def test_moves_long_enough_to_brake_in_are_not_slowed():
    moves = straight_run(50, 2.0)  # braking from 50 mm/s takes 1.6 mm, less than one move
    assert run_time(moves, AXES, 0.01) == pytest.approx(run_time(moves, AXES, 0.01, blocks=None))


def test_a_buffer_of_one_move_stops_after_every_move():
    moves = straight_run(10, 10.0)
    one_by_one = 10 * run_time(moves[:1], AXES, 0.01)
    assert run_time(moves, AXES, 0.01, blocks=1) == pytest.approx(one_by_one)
