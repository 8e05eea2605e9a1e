"""Interpret G-code the way GRBL 1.1 does.

One interpreter serves three users, so they cannot disagree about what a file means: the
time estimator (durations of the Motions), the GRBL simulator (what the pen draws) and the
streamer (modal state and start points for resuming mid-file). It implements the subset of
GRBL's parser a pen plotter uses and rejects the rest with GRBL's own error numbers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sketchplot.core.errors import SketchplotError

if TYPE_CHECKING:
    from sketchplot.core.profiles import MachineProfile

GRBL_ERROR_TEXT = {
    1: "expected command letter",
    2: "bad number format",
    4: "negative value",
    20: "unsupported command",
    21: "modal group violation",
    22: "undefined feed rate",
    23: "command value not an integer",
    24: "two commands use the axis words",
    25: "repeated word",
    26: "no axis words",
    28: "value word missing",
    30: "G53 invalid motion mode",
    31: "axis words exist",
    32: "no arc axis words",
    33: "invalid target",
    34: "arc radius error",
    35: "no arc offsets",
    36: "unused words",
}

MM_PER_INCH = 25.4
ARC_TOLERANCE_MM = 0.002  # GRBL's $12 default: max chord error of arc segments


class GCodeError(SketchplotError):
    """A line GRBL would reject; carries GRBL's error number so the simulator can answer it."""

    def __init__(self, line_no: int, line: str, reason: str, code: int | None = None):
        self.line_no, self.line, self.reason, self.code = line_no, line, reason, code
        suffix = f" (error:{code})" if code is not None else ""
        shown = line.strip()
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        super().__init__(f"line {line_no}: {shown!r}: {reason}{suffix}")


def _fail(line_no: int, raw: str, code: int) -> GCodeError:
    return GCodeError(line_no, raw, GRBL_ERROR_TEXT[code], code)


@dataclass(frozen=True)
class Block:
    """One executable line: where it came from, what gets sent, and its parsed words."""

    line_no: int
    raw: str
    text: str
    words: tuple[tuple[str, float], ...]

    @property
    def is_system(self) -> bool:
        """A ``$`` line (settings, homing, unlock): GRBL's system commands, not G-code."""
        return self.text.startswith("$")


_COMMENT = re.compile(r"\([^)]*\)")
# ASCII only: GRBL reads bytes, and Python's \d would also match other scripts' digits.
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NUMBER_CHARACTERS = frozenset("0123456789.+-")


def line_comment(raw: str) -> str:
    """The text of a line's ( ) comments, e.g. the pen named on a pen change's M0 line."""
    return " ".join(match[1:-1].strip() for match in _COMMENT.findall(raw)).strip()


def clean_line(raw: str) -> str:
    """Strip ( ) and ; comments and all whitespace, upper-case: the bytes GRBL needs."""
    text = _COMMENT.sub("", raw).split(";", 1)[0]
    return "".join(text.split()).upper()


def parse_line(raw: str, line_no: int = 0) -> Block | None:
    """Parse one line into words; None for a blank or comment-only line."""
    code = _COMMENT.sub("", raw).split(";", 1)[0]
    if not code.isascii():
        character = next(c for c in code if not c.isascii())
        raise GCodeError(line_no, raw, f"non-ASCII character {character!r} (GRBL reads ASCII bytes only)", 1)
    text = clean_line(raw)
    if not text:
        return None
    if text.startswith("$"):
        return Block(line_no, raw, text, ())
    words = []
    i = 0
    while i < len(text):
        letter = text[i]
        if letter not in _LETTERS:
            raise _fail(line_no, raw, 1)
        j = i + 1
        while j < len(text) and text[j] in _NUMBER_CHARACTERS:
            j += 1
        value = text[i + 1 : j]
        if not _NUMBER.fullmatch(value) or not math.isfinite(float(value)):
            raise _fail(line_no, raw, 2)
        words.append((letter, float(value)))
        i = j
    return Block(line_no, raw, text, tuple(words))


@dataclass(frozen=True)
class Motion:
    """One straight move in machine mm; arcs are split into short Motions as GRBL does."""

    start: tuple[float, float, float]
    end: tuple[float, float, float]
    rapid: bool
    feed: float
    pen_down: bool
    line_no: int

    @property
    def length(self) -> float:
        return math.dist(self.start, self.end)


@dataclass(frozen=True)
class Dwell:
    seconds: float
    line_no: int


@dataclass(frozen=True)
class PenChange:
    down: bool
    line_no: int


@dataclass(frozen=True)
class Pause:
    """``M0``: GRBL 1.1 finishes every planned move, then holds (``Hold:0``) until cycle start ``~``."""

    line_no: int


Event = Motion | Dwell | PenChange | Pause

# Modal groups of the G and M words this interpreter accepts (GRBL's, minus what a plotter
# never uses). Non-modal group 0 holds G4, G53, G92, G92.1.
_G_GROUPS = {
    0.0: "motion",
    1.0: "motion",
    2.0: "motion",
    3.0: "motion",
    80.0: "motion",
    4.0: "nonmodal",
    53.0: "nonmodal",
    92.0: "nonmodal",
    92.1: "nonmodal",
    17.0: "plane",
    20.0: "units",
    21.0: "units",
    90.0: "distance",
    91.0: "distance",
    91.1: "arc_distance",
    94.0: "feed_mode",
    40.0: "cutter",
    49.0: "tool_length",
    54.0: "coord_system",
    61.0: "path_control",
}
# M1 (optional stop) is accepted and ignored, as GRBL 1.1 does ("Optional stop not supported").
_M_GROUPS = {
    0.0: "stopping",
    1.0: "stopping",
    2.0: "stopping",
    30.0: "stopping",
    3.0: "spindle",
    4.0: "spindle",
    5.0: "spindle",
    7.0: "coolant",
    8.0: "coolant",
    9.0: "coolant",
}
_VALUE_LETTERS = set("FSPRIJKNTXYZL")


class Interpreter:
    """GRBL's modal state machine for one machine profile; positions in machine mm.

    ``execute`` applies one block in GRBL's order of execution (feed, spindle speed, spindle
    on/off, dwell, units, distance mode, offsets, motion, program end) and returns what the
    machine does. The pen state follows ``profile.pen.is_down``.
    """

    def __init__(self, profile: MachineProfile, work_offset: tuple[float, float, float] = (0.0, 0.0, 0.0)):
        self.profile = profile
        self.position = (0.0, 0.0, 0.0)  # G54 work coordinates (machine minus ``work_offset``)
        self.offset = (0.0, 0.0, 0.0)  # G92
        self.work_offset = work_offset  # the machine's G54 offset: G53 targets are machine coordinates
        self.motion_mode = 0.0
        self.inches = False
        self.incremental = False
        self.feed: float | None = None  # mm/min
        self.spindle_on = False
        self.s_value = 0.0
        self.pen_down = self._pen_rule(self.position[2])

    def _pen_rule(self, z: float) -> bool:
        return self.profile.pen.is_down(self.spindle_on, self.s_value, z)

    def place(self, position: tuple[float, float, float]) -> None:
        """Stand at ``position`` (work coordinates) without moving, as after a reset or homing;
        the pen state follows from the new Z."""
        self.position = position
        self.pen_down = self._pen_rule(position[2])

    def copy(self) -> Interpreter:
        """An interpreter in the same modal state (GRBL's check mode starts from it)."""
        twin = Interpreter(self.profile, self.work_offset)
        twin.__dict__.update(self.__dict__)
        return twin

    def execute(self, block: Block) -> list[Event]:
        """Apply one block; a rejected block leaves the state untouched, as in GRBL."""
        if block.is_system:
            return []
        snapshot = dict(self.__dict__)
        try:
            return self._execute(block)
        except GCodeError:
            self.__dict__.update(snapshot)
            raise

    def _execute(self, block: Block) -> list[Event]:
        raw, n = block.raw, block.line_no
        groups: dict[str, float] = {}
        values: dict[str, float] = {}
        for letter, value in block.words:
            if letter in "GM":
                table = _G_GROUPS if letter == "G" else _M_GROUPS
                key = round(value, 1)
                if key not in table:
                    raise _fail(n, raw, 23 if key != int(key) else 20)
                group = letter + table[key]
                if group in groups:
                    raise _fail(n, raw, 21)
                groups[group] = key
            elif letter in _VALUE_LETTERS:
                if letter in values:
                    raise _fail(n, raw, 25)
                if letter in "FSPNT" and value < 0:
                    raise _fail(n, raw, 4)
                values[letter] = value
            else:
                raise _fail(n, raw, 20)
        values.pop("N", None)
        values.pop("T", None)

        scale = MM_PER_INCH if groups.get("Gunits", 20.0 if self.inches else 21.0) == 20.0 else 1.0
        axis_letters = [a for a in "XYZ" if a in values]
        nonmodal = groups.get("Gnonmodal")
        motion = groups.get("Gmotion", self.motion_mode)
        if nonmodal in (92.0,) and not axis_letters:
            raise _fail(n, raw, 26)
        if nonmodal == 92.0 and "Gmotion" in groups:
            raise _fail(n, raw, 24)
        uses_axes_for_motion = axis_letters and nonmodal not in (92.0,)
        if nonmodal == 53.0 and motion not in (0.0, 1.0):
            raise _fail(n, raw, 30)
        if motion == 80.0 and uses_axes_for_motion:
            raise _fail(n, raw, 31)

        events: list[Event] = []
        used = {"F", "S"} | set(axis_letters)
        if "F" in values:
            self.feed = values["F"] * scale
        if "S" in values:
            self.s_value = values["S"]
        if "Mspindle" in groups:
            self.spindle_on = groups["Mspindle"] != 5.0
        self._note_pen(events, n)
        if nonmodal == 4.0:
            if "P" not in values:
                raise _fail(n, raw, 28)
            events.append(Dwell(values["P"], n))
            used.add("P")
        if "Gunits" in groups:
            self.inches = groups["Gunits"] == 20.0
        if "Gdistance" in groups:
            self.incremental = groups["Gdistance"] == 91.0
        if nonmodal == 92.0:
            self.offset = tuple(
                self.position[i] - values[a] * scale if a in values else self.offset[i] for i, a in enumerate("XYZ")
            )
        elif nonmodal == 92.1:
            self.offset = (0.0, 0.0, 0.0)
        if "Gmotion" in groups:
            self.motion_mode = motion

        if uses_axes_for_motion or (motion in (2.0, 3.0) and "Gmotion" in groups):
            target = self._target(values, scale, machine=nonmodal == 53.0)
            if motion in (1.0, 2.0, 3.0) and not self.feed:
                raise _fail(n, raw, 22)
            if motion in (0.0, 1.0):
                events.extend(self._move(target, motion == 0.0, n))
            else:
                points, arc_words = self._arc(values, scale, target, motion == 2.0, n, raw)
                used |= arc_words
                for point in points:
                    events.extend(self._move(point, False, n))
        elif motion in (1.0, 2.0, 3.0) and "Gmotion" in groups and not self.feed:
            raise _fail(n, raw, 22)

        unused = set(values) - used
        if unused:
            raise _fail(n, raw, 36)
        stopping = groups.get("Mstopping")
        if stopping == 0.0:  # program flow runs last in GRBL's order of execution
            events.append(Pause(n))
        elif stopping in (2.0, 30.0):  # program end resets these modes
            self.motion_mode, self.incremental, self.spindle_on = 1.0, False, False
            self._note_pen(events, n)
        return events

    def _note_pen(self, events: list[Event], line_no: int) -> None:
        down = self._pen_rule(self.position[2])
        if down != self.pen_down:
            self.pen_down = down
            events.append(PenChange(down, line_no))

    def _target(self, values, scale, machine: bool) -> tuple[float, float, float]:
        target = []
        for i, axis in enumerate("XYZ"):
            if axis not in values:
                target.append(self.position[i])
            elif machine:
                target.append(values[axis] * scale - self.work_offset[i])
            elif self.incremental:
                target.append(self.position[i] + values[axis] * scale)
            else:
                target.append(values[axis] * scale + self.offset[i])
        return tuple(target)

    def _move(self, target, rapid: bool, line_no: int) -> list[Event]:
        start = self.position
        z_pen_before = self.pen_down
        self.position = target
        events: list[Event] = []
        if target != start:
            down = z_pen_before and self._pen_rule(target[2])
            feed = min(self.profile.max_rate) if rapid else self.feed
            events.append(Motion(start, target, rapid, feed, down, line_no))
        self._note_pen(events, line_no)
        return events

    def _arc(self, values, scale, target, clockwise, line_no, raw):
        """Chord points of a G2/G3 arc in the XY plane, GRBL's segment count; returns used words."""
        x0, y0, _ = self.position
        x1, y1, z1 = target
        if "X" not in values and "Y" not in values:
            raise _fail(line_no, raw, 32)
        if "R" in values:
            r = values["R"] * scale
            dx, dy = x1 - x0, y1 - y0
            h2 = 4.0 * r * r - dx * dx - dy * dy
            if h2 < 0 or (dx == 0 and dy == 0):
                raise _fail(line_no, raw, 33)
            h = -math.sqrt(h2) / math.hypot(dx, dy)
            if not clockwise:
                h = -h
            if r < 0:
                h, r = -h, -r
            cx, cy = x0 + 0.5 * (dx - dy * h), y0 + 0.5 * (dy + dx * h)
            used = {"R"}
        else:
            if "I" not in values and "J" not in values:
                raise _fail(line_no, raw, 35)
            cx, cy = x0 + values.get("I", 0.0) * scale, y0 + values.get("J", 0.0) * scale
            r = math.hypot(x0 - cx, y0 - cy)
            if abs(r - math.hypot(x1 - cx, y1 - cy)) > max(0.005, 0.001 * r):
                raise _fail(line_no, raw, 33)
            used = {"I", "J"} & set(values)
        a0 = math.atan2(y0 - cy, x0 - cx)
        a1 = math.atan2(y1 - cy, x1 - cx)
        sweep = a1 - a0
        if clockwise and sweep >= -1e-12:
            sweep -= 2 * math.pi
        elif not clockwise and sweep <= 1e-12:
            sweep += 2 * math.pi
        chord = math.sqrt(ARC_TOLERANCE_MM * (2 * r - ARC_TOLERANCE_MM)) if r > ARC_TOLERANCE_MM else r
        segments = max(1, int(abs(0.5 * sweep * r) / chord)) if chord > 0 else 1
        z0 = self.position[2]
        points = [
            (
                cx + r * math.cos(a0 + sweep * k / segments),
                cy + r * math.sin(a0 + sweep * k / segments),
                z0 + (z1 - z0) * k / segments,
            )
            for k in range(1, segments)
        ]
        points.append(target)
        return points, used

    def modal_lines(self) -> list[str]:
        """G-code that puts a freshly reset GRBL into this interpreter's modal state (no motion)."""
        lines = ["G21" if not self.inches else "G20", "G91" if self.incremental else "G90"]
        scale = MM_PER_INCH if self.inches else 1.0
        if any(self.offset):
            work = [(p - o) / scale for p, o in zip(self.position, self.offset)]
            lines.append("G92 " + " ".join(f"{a}{v:.4f}" for a, v in zip("XYZ", work)))
        if self.feed:
            lines.append(f"F{self.feed / scale:.4f}")
        lines.append(f"{'M3' if self.spindle_on else 'M5'} S{self.s_value:g}")
        return lines


class PathRecorder:
    """Collects pen-down motions into polylines; shared by ``pen_paths`` and the simulator."""

    def __init__(self):
        self.polylines: list[np.ndarray] = []
        self._current: list[tuple[float, float]] = []

    def feed(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Motion):
                if not event.pen_down:
                    self.break_line()
                elif event.start[:2] != event.end[:2]:
                    if not self._current:
                        self._current.append(event.start[:2])
                    self._current.append(event.end[:2])
            elif isinstance(event, PenChange) and not event.down:
                self.break_line()

    def break_line(self) -> None:
        if len(self._current) >= 2:
            self.polylines.append(np.asarray(self._current, dtype=float))
        self._current = []

    def finish(self) -> list[np.ndarray]:
        self.break_line()
        return self.polylines
