"""GRBL 1.1's motion planner: trapezoids, junction deviation, the forward and reverse passes.

Shared by the plot-time estimate and the simulator's realtime mode, so both time a move alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sketchplot.core.grbl.interpreter import Motion
from sketchplot.core.grbl.protocol import PLANNER_BLOCKS
from sketchplot.core.profiles import MachineProfile

STRAIGHT_COS = 0.999999  # GRBL's threshold for a straight or reversing junction


def limit_by_axes(limits: tuple[float, float, float], unit: np.ndarray) -> float:
    """GRBL's limit_value_by_axis_maximum: the largest value along ``unit`` that keeps every
    axis component within its own limit."""
    return min(limit / abs(u) for limit, u in zip(limits, unit) if u != 0)


@dataclass(frozen=True)
class Axes:
    """Per-axis limits in mm/s and mm/s^2 (X, Y, Z)."""

    max_rate: tuple[float, float, float]
    acceleration: tuple[float, float, float]

    @classmethod
    def of(cls, profile: MachineProfile) -> Axes:
        rates = tuple(r / 60.0 for r in profile.max_rate) + (profile.pen.z_feed / 60.0,)
        accels = tuple(profile.acceleration) + (min(profile.acceleration),)
        return cls(rates, accels)


def junction_speed_sqr(prev_unit: np.ndarray, unit: np.ndarray, axes: Axes, deviation: float) -> float:
    """GRBL 1.1's max junction speed squared between two moves (planner.c)."""
    cos_theta = -float(np.dot(prev_unit, unit))
    if cos_theta > STRAIGHT_COS:  # reversal: stop
        return 0.0
    if cos_theta < -STRAIGHT_COS:  # straight on: only the nominal speeds limit it
        return math.inf
    direction = unit - prev_unit
    direction /= np.linalg.norm(direction)
    acceleration = limit_by_axes(axes.acceleration, direction)
    sin_theta_d2 = math.sqrt(0.5 * (1.0 - cos_theta))
    return acceleration * deviation * sin_theta_d2 / (1.0 - sin_theta_d2)


def trapezoid_time(length: float, v_entry: float, v_exit: float, v_max: float, accel: float) -> float:
    """Time of one move that starts at v_entry, ends at v_exit and never exceeds v_max."""
    accel_dist = (v_max**2 - v_entry**2) / (2 * accel)
    decel_dist = (v_max**2 - v_exit**2) / (2 * accel)
    if accel_dist + decel_dist <= length:
        cruise = length - accel_dist - decel_dist
        return (v_max - v_entry) / accel + (v_max - v_exit) / accel + cruise / v_max
    peak = math.sqrt(max((2 * accel * length + v_entry**2 + v_exit**2) / 2, v_entry**2, v_exit**2))
    return (peak - v_entry) / accel + (peak - v_exit) / accel


@dataclass(frozen=True)
class MoveLimits:
    """What the planner needs to know about one move: mm, unit direction, mm/s, mm/s^2."""

    length: float
    unit: np.ndarray
    nominal: float  # programmed feed capped by the axes' max rates; G0 at the max rate
    accel: float

    @classmethod
    def of(cls, move: Motion, axes: Axes) -> MoveLimits:
        delta = np.subtract(move.end, move.start)
        length = float(np.linalg.norm(delta))
        unit = delta / length
        rate = limit_by_axes(axes.max_rate, unit)
        nominal = rate if move.rapid else min(move.feed / 60.0, rate)
        return cls(length, unit, nominal, limit_by_axes(axes.acceleration, unit))


def junction_cap_sqr(prev: MoveLimits, move: MoveLimits, axes: Axes, deviation: float) -> float:
    """Largest entry speed squared of ``move`` coming out of ``prev``: the corner and both feeds."""
    return min(min(prev.nominal, move.nominal) ** 2, junction_speed_sqr(prev.unit, move.unit, axes, deviation))


def reverse_pass(moves: list[MoveLimits], caps_sqr: list[float], exit_sqr: float = 0.0) -> list[float]:
    """GRBL's backward pass: entry speed squared of each move, capped by ``caps_sqr[i]`` and low
    enough to brake for the next move's entry; one more value at the end, the final ``exit_sqr``."""
    entry_sqr = list(caps_sqr) + [exit_sqr]
    for i in range(len(moves) - 1, -1, -1):
        entry_sqr[i] = min(entry_sqr[i], entry_sqr[i + 1] + 2 * moves[i].accel * moves[i].length)
    return entry_sqr


def forward_move(move: MoveLimits, entry_sqr: float, exit_cap_sqr: float) -> tuple[float, float]:
    """GRBL's forward pass for one move that starts at ``entry_sqr``: it leaves as fast as the
    cap and its acceleration over its length allow. Returns (seconds, exit speed squared)."""
    exit_sqr = min(exit_cap_sqr, entry_sqr + 2 * move.accel * move.length)
    seconds = trapezoid_time(move.length, math.sqrt(entry_sqr), math.sqrt(exit_sqr), move.nominal, move.accel)
    return seconds, exit_sqr


def lookahead_caps(limits: list[MoveLimits], caps_sqr: list[float], blocks: int) -> list[float]:
    """``caps_sqr`` lowered so each move can still stop at the end of the planner buffer: while
    a move runs, GRBL holds it and the next ``blocks - 1`` moves and plans the last of them to
    end at rest, so a move's exit speed is what lets the machine brake to a stop within them
    (a streamer keeps the buffer full; the next block arrives only when the running one is done)."""
    count = len(limits)
    lengths = np.array([move.length for move in limits])
    accels = np.array([move.accel for move in limits])
    caps = np.asarray(caps_sqr, dtype=float)
    braking = np.zeros(count)  # per running move i: entry speed squared of move i + offset
    for offset in range(blocks - 1, 0, -1):
        later = np.arange(count) + offset
        inside = later < count
        later = np.minimum(later, count - 1)
        braking = np.where(inside, np.minimum(caps[later], braking + 2 * accels[later] * lengths[later]), 0.0)
    return [float(caps[0])] + np.minimum(caps[1:], braking[:-1]).tolist()


def move_times(moves: list[Motion], axes: Axes, deviation: float, blocks: int | None = PLANNER_BLOCKS) -> list[float]:
    """Seconds of each move of a run that starts and ends at rest (GRBL's forward/backward
    pass over a planner buffer of ``blocks`` moves; None: looking ahead through the whole
    run), so a plot's time can be told apart by what the moves do."""
    limits = [MoveLimits.of(move, axes) for move in moves]
    caps = [0.0] + [junction_cap_sqr(a, b, axes, deviation) for a, b in zip(limits, limits[1:])]
    if blocks is not None:
        caps = lookahead_caps(limits, caps, blocks)
    entry_sqr = reverse_pass(limits, caps)
    times = []
    for i, move in enumerate(limits):
        seconds, entry_sqr[i + 1] = forward_move(move, entry_sqr[i], entry_sqr[i + 1])
        times.append(seconds)
    return times


def run_time(moves: list[Motion], axes: Axes, deviation: float, blocks: int | None = PLANNER_BLOCKS) -> float:
    """Seconds for a run of moves that starts and ends at rest."""
    return sum(move_times(moves, axes, deviation, blocks))
