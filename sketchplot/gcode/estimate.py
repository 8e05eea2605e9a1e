"""Plot-time estimate that follows GRBL 1.1's planner, not length / feed.

What GRBL does and this model reproduces: each move accelerates and decelerates with a
trapezoid whose acceleration is the largest one every axis allows along the move direction;
the speed through a corner is capped by junction deviation ($11); a pen change (servo M3
synchronises the planner) and a dwell bring the machine to a full stop, as do the start and
the end of the job; G0 runs at the axes' max rates. The planner buffer is assumed deep
enough to look ahead through a whole pen stroke (GRBL holds 15-16 blocks; sketch strokes
are short, so this rarely matters).

Profiles only give X/Y rates and accelerations; a Z move uses ``pen.z_feed`` as its max
rate and the smaller X/Y acceleration.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from sketchplot.gcode.reader import Block, Dwell, Interpreter, Motion, PenChange, read_gcode
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
class _Axes:
    """Per-axis limits in mm/s and mm/s^2 (X, Y, Z)."""

    max_rate: tuple[float, float, float]
    acceleration: tuple[float, float, float]

    @classmethod
    def of(cls, profile: MachineProfile) -> _Axes:
        rates = tuple(r / 60.0 for r in profile.max_rate) + (profile.pen.z_feed / 60.0,)
        accels = tuple(profile.acceleration) + (min(profile.acceleration),)
        return cls(rates, accels)


def junction_speed_sqr(prev_unit: np.ndarray, unit: np.ndarray, axes: _Axes, deviation: float) -> float:
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


def run_time(moves: list[Motion], axes: _Axes, deviation: float) -> float:
    """Seconds for a run of moves that starts and ends at rest (GRBL's forward/backward pass)."""
    count = len(moves)
    lengths = np.empty(count)
    nominal = np.empty(count)
    accel = np.empty(count)
    units = []
    for i, move in enumerate(moves):
        delta = np.subtract(move.end, move.start)
        lengths[i] = float(np.linalg.norm(delta))
        unit = delta / lengths[i]
        units.append(unit)
        rate = limit_by_axes(axes.max_rate, unit)
        nominal[i] = rate if move.rapid else min(move.feed / 60.0, rate)
        accel[i] = limit_by_axes(axes.acceleration, unit)
    entry_sqr = np.zeros(count + 1)  # entry speed squared of each move; [count] = final stop
    for i in range(1, count):
        limit = min(nominal[i - 1], nominal[i]) ** 2
        entry_sqr[i] = min(limit, junction_speed_sqr(units[i - 1], units[i], axes, deviation))
    for i in range(count - 1, -1, -1):  # backward: able to brake for what follows
        entry_sqr[i] = min(entry_sqr[i], entry_sqr[i + 1] + 2 * accel[i] * lengths[i])
    for i in range(count):  # forward: able to reach the speed from what came before
        entry_sqr[i + 1] = min(entry_sqr[i + 1], entry_sqr[i] + 2 * accel[i] * lengths[i])
    speeds = np.sqrt(entry_sqr)
    return sum(
        trapezoid_time(lengths[i], speeds[i], speeds[i + 1], nominal[i], accel[i]) for i in range(count)
    )


def estimate_blocks(blocks: list[Block], profile: MachineProfile) -> PlotEstimate:
    """Estimate for parsed G-code (``reader.read_gcode``) on one machine."""
    axes = _Axes.of(profile)
    interpreter = Interpreter(profile)
    pen_down = travel = dwell = naive = planned = 0.0
    lifts = moves = 0
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
                rate = limit_by_axes(axes.max_rate, np.subtract(event.end, event.start) / event.length)
                naive += event.length / (rate if event.rapid else min(event.feed / 60.0, rate))
            elif isinstance(event, Dwell):
                planned += stop()
                dwell += event.seconds
            elif isinstance(event, PenChange):
                planned += stop()
                lifts += lowered and not event.down
                lowered = event.down
    planned += stop()
    return PlotEstimate(pen_down, travel, lifts, moves, dwell, planned + dwell, naive)


def estimate_gcode(source: str | os.PathLike, profile: MachineProfile) -> PlotEstimate:
    """Estimate for a G-code file path or text."""
    return estimate_blocks(read_gcode(source), profile)
