"""Read G-code files into blocks and check what they would do before anything is sent."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sketchplot.core.errors import SketchplotError
from sketchplot.core.grbl.interpreter import Block, Interpreter, Motion, PathRecorder, parse_line
from sketchplot.core.profiles import MachineProfile


def read_gcode(source: str | os.PathLike) -> list[Block]:
    """Blocks of a G-code file (a path) or of G-code text (a string containing a newline)."""
    if isinstance(source, os.PathLike) or ("\n" not in source and Path(source).is_file()):
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SketchplotError(f"cannot read G-code file {source}: {exc}") from None
    else:
        text = source
    blocks = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        block = parse_line(raw, line_no)
        if block is not None:
            blocks.append(block)
    return blocks


def pen_paths(blocks: list[Block], profile: MachineProfile) -> list[np.ndarray]:
    """Pen-down polylines in machine mm, consecutive pen-down motions joined."""
    interpreter = Interpreter(profile)
    recorder = PathRecorder()
    for block in blocks:
        recorder.feed(interpreter.execute(block))
    return recorder.finish()


class OutOfWorkAreaError(SketchplotError):
    """A G-code file that would drive the machine outside its profile's work area."""


def check_work_area(
    blocks: list[Block], profile: MachineProfile, work_offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
) -> None:
    """Refuse a file before anything is sent if any move (arcs as their segments) ends outside
    the work area, naming the line, the point (machine mm: work coordinates plus the
    machine's G54 ``work_offset``) and the limits."""
    interpreter = Interpreter(profile, work_offset)
    tol = 0.5 * 10.0**-profile.decimals
    for block in blocks:
        for event in interpreter.execute(block):
            if not isinstance(event, Motion):
                continue
            x, y = event.end[0] + work_offset[0], event.end[1] + work_offset[1]
            if not profile.contains(x, y, tol):
                raise OutOfWorkAreaError(
                    f"line {block.line_no}: '{block.raw.strip()}' moves to ({x:g}, {y:g}) mm, outside the work "
                    f"area of '{profile.name}' (x {profile.x_min:g}..{profile.x_max:g}, "
                    f"y {profile.y_min:g}..{profile.y_max:g} mm)"
                )
