"""The G-code a stopped job needs to go on: lift the pen from any state, and bring the machine
back to the state and place a line expects.

Restore moves work in the job's own coordinates (G54 work coordinates, G92 cleared and then
set again as the job had it), never in G53 machine coordinates: with a work offset on the
machine the two differ.
"""

from __future__ import annotations

import copy

from sketchplot.core.grbl.interpreter import Interpreter
from sketchplot.core.profiles import MachineProfile

WORK_FRAME = ["G21", "G90", "G92.1"]  # millimetres, absolute, G92 cleared: plain work coordinates


def pen_up_lines(profile: MachineProfile) -> list[str]:
    """Lift the pen from any modal state: a servo at once (``M3`` needs no frame), a Z pen to
    the job's own pen-up height in work coordinates."""
    return _lift(profile) if profile.pen.method == "servo" else [*WORK_FRAME, *_lift(profile)]


def _lift(profile: MachineProfile) -> list[str]:
    pen = profile.pen
    if pen.method == "servo":
        return [f"M3 S{pen.up:g}"] + ([f"G4 P{pen.settle_after(False):g}"] if pen.settle_after(False) > 0 else [])
    return [f"G0 Z{pen.up:g}"]


def restore_lines(
    state: Interpreter, profile: MachineProfile, position: tuple[float, float, float] | None = None
) -> list[str]:
    """From any state: lift the pen, travel to ``position`` (default: where ``state`` is) and
    put modal state and pen back as they were (units, distance mode, G92 offset, feed,
    spindle/servo, Z)."""
    at = copy.copy(state)
    if position is not None:
        at.position = position
    x, y, z = at.position
    lines = [*WORK_FRAME, *_lift(profile), f"G0 X{x:.4f} Y{y:.4f}"]
    if profile.pen.method == "z":
        lines.append(f"G1 Z{z:.4f} F{profile.pen.z_feed:g}")
    lines += at.modal_lines()
    settle = profile.pen.settle_after(at.pen_down)
    if profile.pen.method == "servo" and settle > 0:
        lines.append(f"G4 P{settle:g}")
    return lines
