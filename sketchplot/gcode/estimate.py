"""Plot-time estimate that follows GRBL 1.1's planner, not length / feed.

What GRBL does and this model reproduces: each move accelerates and decelerates with a
trapezoid whose acceleration is the largest one every axis allows along the move direction;
the speed through a corner is capped by junction deviation ($11); a pen change (servo M3
synchronises the planner), a dwell and a program pause (M0, a pen change) bring the machine
to a full stop, as do the start and the end of the job (the time a person takes to change
pens at a pause is not machine time and is not counted); G0 runs at the axes' max rates.
GRBL looks ahead only through its planner buffer (15 blocks on an ATmega328p): a move leaves
no faster than the machine could brake to a stop within the moves buffered behind it, which
slows long runs of tiny moves (a sketch's corner arcs are short, but few in a row).

Profiles only give X/Y rates and accelerations; a Z move uses ``pen.z_feed`` as its max
rate and the smaller X/Y acceleration. The planner itself (``core.grbl.planner``) also times
the GRBL simulator's blocks in its realtime mode.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from sketchplot.core.grbl.interpreter import Block, Dwell, Interpreter, Motion, Pause, PenChange
from sketchplot.core.grbl.planner import Axes, MoveLimits, move_times
from sketchplot.core.grbl.protocol import PLANNER_BLOCKS
from sketchplot.core.profiles import MachineProfile
from sketchplot.gcode.reader import read_gcode


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
    drawing_s: float = 0.0  # of ``seconds``: moves with the pen down
    travel_s: float = 0.0  # pen-up moves in X/Y
    pen_change_s: float = 0.0  # dwells and Z moves: lifting and lowering the pen

    @property
    def optimism(self) -> float:
        """How much a length / feed estimate underestimates the real time."""
        return self.seconds / self.naive_seconds if self.naive_seconds > 0 else 1.0

    def describe_paths(self) -> str:
        """Lengths and counts in one line."""
        return (
            f"pen down {self.pen_down_mm:.0f} mm, travel {self.travel_mm:.0f} mm, "
            f"{self.pen_lifts} pen lifts, {self.moves} moves"
        )

    def describe(self) -> str:
        return (
            f"{self.describe_paths()}\n"
            f"estimated time {format_duration(self.seconds)} "
            f"(length/feed would say {format_duration(self.naive_seconds)}, "
            f"{self.optimism:.2f}x too optimistic; dwells {self.dwell_s:.1f} s)\n"
            f"of which drawing {format_duration(self.drawing_s)}, travel {format_duration(self.travel_s)}, "
            f"lifting and lowering the pen {format_duration(self.pen_change_s)}"
            + (
                f"\n{self.pen_changes} pen change(s): the job pauses for each, and waiting is not counted"
                if self.pen_changes
                else ""
            )
        )


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def estimate_blocks(
    blocks: list[Block], profile: MachineProfile, planner_blocks: int | None = PLANNER_BLOCKS
) -> PlotEstimate:
    """Estimate for parsed G-code (``reader.read_gcode``) on one machine whose planner buffer
    holds ``planner_blocks`` moves (None: it looks ahead to the next stop)."""
    axes = Axes.of(profile)
    interpreter = Interpreter(profile)
    pen_down = travel = dwell = naive = 0.0
    drawing_s = travel_s = pen_s = 0.0
    lifts = moves = pauses = 0
    lowered = False  # the pen went down (or drew) since the last lift
    run: list[Motion] = []

    def stop() -> None:
        nonlocal drawing_s, travel_s, pen_s
        times = move_times(run, axes, profile.junction_deviation, planner_blocks) if run else []
        for motion, seconds in zip(run, times):
            if motion.start[:2] == motion.end[:2]:
                pen_s += seconds
            elif motion.pen_down:
                drawing_s += seconds
            else:
                travel_s += seconds
        run.clear()

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
                stop()
                dwell += event.seconds
            elif isinstance(event, PenChange):
                stop()
                lifts += lowered and not event.down
                lowered = event.down
            elif isinstance(event, Pause):
                stop()
                pauses += 1
    stop()
    seconds = drawing_s + travel_s + pen_s + dwell
    return PlotEstimate(
        pen_down, travel, lifts, moves, dwell, seconds, naive, pauses, drawing_s, travel_s, pen_s + dwell
    )


def estimate_gcode(
    source: str | os.PathLike, profile: MachineProfile, planner_blocks: int | None = PLANNER_BLOCKS
) -> PlotEstimate:
    """Estimate for a G-code file path or text."""
    return estimate_blocks(read_gcode(source), profile, planner_blocks)
