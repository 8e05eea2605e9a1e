"""Which lines of a job are known to have run, and how to continue a job from there.

GRBL's ``ok`` only says a line was planned; up to 15 blocks may still be waiting. The
streamer records a line here once it is proven executed (see ``streamer``), so a resumed job
neither skips a segment nor draws one twice. A straight line the machine stopped inside is
kept as ``partial`` (its line and the stop position): a resume starts it from there.

Restore moves work in the job's own coordinates (G54 work coordinates, G92 cleared and then
set again as the job had it), never in G53 machine coordinates: with a work offset on the
machine the two differ.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from sketchplot.core.atomic import atomic_write_text
from sketchplot.core.errors import SketchplotError
from sketchplot.core.grbl.interpreter import Block, Interpreter, line_comment
from sketchplot.core.profiles import MachineProfile


class JournalError(SketchplotError):
    """A journal that is missing, unreadable or belongs to another file."""


@dataclass(frozen=True)
class PlanLine:
    """A line to send: from the file (``line_no``) or added by the streamer (``line_no`` None).
    ``comment`` keeps the file line's comment (GRBL never sees it), e.g. the pen an M0 waits for."""

    text: str
    line_no: int | None = None
    comment: str = ""


def default_journal_path(gcode_path: str | os.PathLike) -> Path:
    return Path(f"{gcode_path}.journal.json")


def file_digest(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _ranges(numbers: set[int]) -> list[list[int]]:
    ranges: list[list[int]] = []
    for n in sorted(numbers):
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1][1] = n
        else:
            ranges.append([n, n])
    return ranges


@dataclass(frozen=True)
class Partial:
    """A straight line the machine stopped inside: it ran from its start to ``position``
    (job coordinates, mm)."""

    line_no: int
    position: tuple[float, float, float]


@dataclass
class Journal:
    """Executed line numbers of one G-code file, saved as JSON next to it."""

    path: Path
    gcode: str
    sha256: str
    executed: set[int] = field(default_factory=set)
    complete: bool = False
    partial: Partial | None = None

    def save(self) -> None:
        data = {
            "gcode": self.gcode,
            "sha256": self.sha256,
            "executed": _ranges(self.executed),
            "complete": self.complete,
        }
        if self.partial is not None:
            data["partial"] = {"line": self.partial.line_no, "position": list(self.partial.position)}
        try:
            atomic_write_text(self.path, json.dumps(data, indent=1) + "\n")
        except OSError as exc:
            raise JournalError(f"cannot write journal {self.path}: {exc} (choose another with --journal)") from None

    @classmethod
    def load(cls, path: str | os.PathLike, gcode_path: str | os.PathLike) -> Journal:
        path = Path(path)
        if not path.is_file():
            raise JournalError(f"no journal to resume from: {path} does not exist (use --start-line N)")
        try:
            data = json.loads(path.read_text())
            executed = {n for first, last in data["executed"] for n in range(first, last + 1)}
            partial = None
            if data.get("partial") is not None:
                x, y, z = (float(v) for v in data["partial"]["position"])
                if not all(math.isfinite(v) for v in (x, y, z)):
                    raise ValueError("partial position is not finite")
                partial = Partial(int(data["partial"]["line"]), (x, y, z))
            journal = cls(path, data["gcode"], data["sha256"], executed, bool(data.get("complete")), partial)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise JournalError(f"cannot read journal {path}: {exc}") from None
        if journal.sha256 != file_digest(gcode_path):
            raise JournalError(f"journal {path} belongs to another version of {gcode_path} (the file changed)")
        return journal


WORK_FRAME = ["G21", "G90", "G92.1"]  # millimetres, absolute, G92 cleared: plain work coordinates


def pen_up_lines(profile: MachineProfile) -> list[str]:
    """Lift the pen from any modal state: a servo at once (``M3`` needs no frame), a Z pen to
    the job's own pen-up height in work coordinates."""
    return _lift(profile) if profile.pen.method == "servo" else [*WORK_FRAME, *_lift(profile)]


def _lift(profile: MachineProfile) -> list[str]:
    pen = profile.pen
    if pen.method == "servo":
        return [f"M3 S{pen.up:g}"] + ([f"G4 P{pen.settle_s:g}"] if pen.settle_s > 0 else [])
    return [f"G0 Z{pen.up:g}"]


def restore_lines(state: Interpreter, profile: MachineProfile, position: tuple[float, float, float] | None = None) -> list[str]:
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
    if profile.pen.method == "servo" and profile.pen.settle_s > 0:
        lines.append(f"G4 P{profile.pen.settle_s:g}")
    return lines


def resume_plan(
    blocks: list[Block], executed: set[int], profile: MachineProfile, partial: Partial | None = None
) -> list[PlanLine]:
    """The lines still to run: every block not known executed, each run of them preceded by
    the moves that restore the state it expects (modal words of earlier lines replayed
    without motion, pen up, G0 travel to its start, pen as it was). The ``partial`` line
    starts where it stopped, so its executed part is not drawn again."""
    shadow = Interpreter(profile)
    plan: list[PlanLine] = []
    previous_done = False
    for block in blocks:
        done = block.line_no in executed
        if not done:
            if previous_done:
                resume_at = partial.position if partial is not None and partial.line_no == block.line_no else None
                plan += [PlanLine(text) for text in restore_lines(shadow, profile, resume_at)]
            plan.append(PlanLine(block.text, block.line_no, line_comment(block.raw)))
        previous_done = done
        shadow.execute(block)
    return plan


def start_line_executed(blocks: list[Block], start_line: int) -> set[int]:
    """``--start-line N``: every block before line N counts as done."""
    return {block.line_no for block in blocks if block.line_no < start_line}
