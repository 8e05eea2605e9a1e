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

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from sketchplot.core.atomic import atomic_write_text
from sketchplot.core.errors import SketchplotError
from sketchplot.core.grbl.interpreter import Block, Interpreter, line_comment, parse_line
from sketchplot.core.profiles import MachineProfile
from sketchplot.gcode.restore import restore_lines


class JournalError(SketchplotError):
    """A journal that is missing, unreadable or belongs to another file."""


@dataclass(frozen=True)
class PlanLine:
    """A line to send: from the file (``line_no``) or added by the streamer (``line_no`` None).
    ``comment`` keeps the file line's comment (GRBL never sees it), e.g. the pen an M0 waits for."""

    text: str
    line_no: int | None = None
    comment: str = ""

    @property
    def is_pause(self) -> bool:
        """An ``M0``: the job holds here for a pen change."""
        block = parse_line(self.text)
        return block is not None and ("M", 0.0) in block.words


@dataclass(frozen=True)
class PauseInfo:
    """The programmed pause (M0) the machine is holding at, given to ``on_pause``."""

    number: int  # 1-based among the pauses of this run
    total: int
    line_no: int | None  # file line of the M0
    note: str  # the M0 line's comment, e.g. "pen change: layer 2"

    @property
    def next_layer(self) -> int | None:
        """The layer (pen) drawn after the pause, when the note names one (``write_gcode``'s do)."""
        match = re.search(r"\blayer (\d+)", self.note)
        return int(match[1]) if match else None


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
