"""Plot-time estimate that follows GRBL 1.1's planner, not length / feed.

What GRBL does and this model reproduces: each move accelerates and decelerates with a
trapezoid whose acceleration is the largest one every axis allows along the move direction;
the speed through a corner is capped by junction deviation ($11); a pen change (servo M3
synchronises the planner), a dwell and a program pause (M0, a pen change) bring the machine
to a full stop, as do the start and the end of the job (the time a person takes to change
pens at a pause is not machine time and is not counted); G0 runs at the axes' max rates. The planner buffer is assumed deep
enough to look ahead through a whole pen stroke (GRBL holds 15-16 blocks; sketch strokes
are short, so this rarely matters).

Profiles only give X/Y rates and accelerations; a Z move uses ``pen.z_feed`` as its max
rate and the smaller X/Y acceleration. The planner steps (``MoveLimits``, ``junction_cap_sqr``,
``reverse_pass``, ``forward_move``) also time the GRBL simulator's blocks in its realtime mode.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from sketchplot.gcode.reader import Block, Dwell, Interpreter, Motion, Pause, PenChange, read_gcode
from sketchplot.machines.profiles import MachineProfile

STRAIGHT_COS = 0.999999  # GRBL's threshold for a straight or reversing junction


@dataclass(frozen=True)
class PlotEstimate:
    """What the G-code will cost on the machine; lengths in mm, times in seconds."""

    pen_down_mm: float
    travel_mm: float
    pen_lifts: int  # pen going up after it was lowered or drew (the first lift of a job is not one)
    moves: int
    dwell_s: float
    seconds: float  # GRBL planner model, dwells included
    naive_seconds: float  # sum of length / programmed feed (G0 at max rate), no dwells
    pen_changes: int = 0  # M0 pauses: the job waits for a person this many times

    @property
    def optimism(self) -> float:
        """How much a length / feed estimate underestimates the real time."""
        return self.seconds / self.naive_seconds if self.naive_seconds > 0 else 1.0

    def describe(self) -> str:
        return (
            f"pen down {self.pen_down_mm:.0f} mm, travel {self.travel_mm:.0f} mm, "
            f"{self.pen_lifts} pen lifts, {self.moves} moves\n"
            f"estimated time {format_duration(self.seconds)} "
            f"(length/feed would say {format_duration(self.naive_seconds)}, "
            f"{self.optimism:.2f}x too optimistic; dwells {self.dwell_s:.1f} s)"
            + (f"\n{self.pen_changes} pen change(s): the job pauses for each, and waiting is not counted"
               if self.pen_changes else "")
        )


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


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


def run_time(moves: list[Motion], axes: Axes, deviation: float) -> float:
    """Seconds for a run of moves that starts and ends at rest (GRBL's forward/backward pass)."""
    limits = [MoveLimits.of(move, axes) for move in moves]
    caps = [0.0] + [junction_cap_sqr(a, b, axes, deviation) for a, b in zip(limits, limits[1:])]
    entry_sqr = reverse_pass(limits, caps)
    total = 0.0
    for i, move in enumerate(limits):
        seconds, entry_sqr[i + 1] = forward_move(move, entry_sqr[i], entry_sqr[i + 1])
        total += seconds
    return total


def estimate_blocks(blocks: list[Block], profile: MachineProfile) -> PlotEstimate:
    """Estimate for parsed G-code (``reader.read_gcode``) on one machine."""
    axes = Axes.of(profile)
    interpreter = Interpreter(profile)
    pen_down = travel = dwell = naive = planned = 0.0
    lifts = moves = pauses = 0
    lowered = False  # the pen went down (or drew) since the last lift
    run: list[Motion] = []

    def stop() -> float:
        seconds = run_time(run, axes, profile.junction_deviation) if run else 0.0
        run.clear()
        return seconds

    for block in blocks:
        for event in interpreter.execute(block):
            if isinstance(event, Motion):
                moves += 1
                xy = math.dist(event.start[:2], event.end[:2])
                if event.pen_down:
                    pen_down += xy
                    lowered = True
                else:
                    travel += xy
                run.append(event)
                naive += event.length / MoveLimits.of(event, axes).nominal
            elif isinstance(event, Dwell):
                planned += stop()
                dwell += event.seconds
            elif isinstance(event, PenChange):
                planned += stop()
                lifts += lowered and not event.down
                lowered = event.down
            elif isinstance(event, Pause):
                planned += stop()
                pauses += 1
    planned += stop()
    return PlotEstimate(pen_down, travel, lifts, moves, dwell, planned + dwell, naive, pauses)


def estimate_gcode(source: str | os.PathLike, profile: MachineProfile) -> PlotEstimate:
    """Estimate for a G-code file path or text."""
    return estimate_blocks(read_gcode(source), profile)
