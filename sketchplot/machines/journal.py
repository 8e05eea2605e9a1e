"""Which lines of a job are known to have run, and how to continue a job from there.

GRBL's ``ok`` only says a line was planned; up to 15 blocks may still be waiting. The
streamer records a line here once it is proven executed (see ``streamer``), so a resumed job
neither skips a segment nor draws one twice, except the one segment that was in progress.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from sketchplot.errors import SketchplotError
from sketchplot.gcode.reader import Block, Interpreter, line_comment
from sketchplot.machines.profiles import MachineProfile


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


@dataclass
class Journal:
    """Executed line numbers of one G-code file, saved as JSON next to it."""

    path: Path
    gcode: str
    sha256: str
    executed: set[int] = field(default_factory=set)
    complete: bool = False

    def save(self) -> None:
        data = {
            "gcode": self.gcode,
            "sha256": self.sha256,
            "executed": _ranges(self.executed),
            "complete": self.complete,
        }
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            temporary.write_text(json.dumps(data, indent=1) + "\n")
            os.replace(temporary, self.path)
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
            journal = cls(path, data["gcode"], data["sha256"], executed, bool(data.get("complete")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise JournalError(f"cannot read journal {path}: {exc}") from None
        if journal.sha256 != file_digest(gcode_path):
            raise JournalError(f"journal {path} belongs to another version of {gcode_path} (the file changed)")
        return journal


def pen_up_lines(profile: MachineProfile) -> list[str]:
    """Lift the pen from any modal state (machine coordinates for Z)."""
    pen = profile.pen
    if pen.method == "servo":
        return [f"M3 S{pen.up:g}"] + ([f"G4 P{pen.settle_s:g}"] if pen.settle_s > 0 else [])
    return [f"G53 G0 Z{pen.up:g}"]


def restore_lines(state: Interpreter, profile: MachineProfile) -> list[str]:
    """From any state: lift the pen, travel to where ``state`` is, and put modal state and pen
    back as they were (units, distance mode, G92 offset, feed, spindle/servo, Z)."""
    x, y, z = state.position
    lines = ["G21", "G90", *pen_up_lines(profile), f"G53 G0 X{x:.4f} Y{y:.4f}"]
    if profile.pen.method == "z":
        lines.append(f"G53 G1 Z{z:.4f} F{profile.pen.z_feed:g}")
    lines += state.modal_lines()
    if profile.pen.method == "servo" and profile.pen.settle_s > 0:
        lines.append(f"G4 P{profile.pen.settle_s:g}")
    return lines


def resume_plan(blocks: list[Block], executed: set[int], profile: MachineProfile) -> list[PlanLine]:
    """The lines still to run: every block not known executed, each run of them preceded by
    the moves that restore the state it expects (modal words of earlier lines replayed
    without motion, pen up, G0 travel to its start, pen as it was)."""
    shadow = Interpreter(profile)
    plan: list[PlanLine] = []
    previous_done = False
    for block in blocks:
        done = block.line_no in executed
        if not done:
            if previous_done:
                plan += [PlanLine(text) for text in restore_lines(shadow, profile)]
            plan.append(PlanLine(block.text, block.line_no, line_comment(block.raw)))
        previous_done = done
        shadow.execute(block)
    return plan


def start_line_executed(blocks: list[Block], start_line: int) -> set[int]:
    """``--start-line N``: every block before line N counts as done."""
    return {block.line_no for block in blocks if block.line_no < start_line}
