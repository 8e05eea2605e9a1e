"""GRBL G-code from a laid-out vpype Document and a machine profile.

Rules this writer keeps (GRBL 1.1): G21 G90 header, a feed word on the first G1 (else
error:22), lines far below GRBL's 80-character buffer (error:11), printable ASCII only and
never the real-time characters ``?``, ``!``, ``~`` (GRBL acts on them even inside comments),
pen up before every travel, a settle dwell after every pen change, and a servo job ends pen
up with no M2/M30/M5 (they switch the PWM off and the pen falls) unless the profile sets
``program_end``. Every coordinate is checked against the work area before any output, and
no number written is NaN or infinite. A move shorter than one step on every axis
(``profile.step_mm``) is left out: GRBL may plan no block for it, and the streamer's count of
planner blocks must hold.

Multi-pen jobs: each non-empty layer of the Document is one pen. Between layers the pen goes
up, the machine travels to the profile's park position and ``M0`` pauses the program (GRBL
1.1 holds with ``Hold:0`` until cycle start ``~``); the M0 line's comment names the next pen.
"""

from __future__ import annotations

import math

import numpy as np
import vpype as vp

from sketchplot.core.errors import SketchplotError
from sketchplot.core.profiles import MachineProfile

PX_PER_MM = vp.convert_length("mm")
GRBL_LINE_LIMIT = 79  # GRBL's line buffer is 80 bytes including the terminator
REALTIME_CHARACTERS = "?!~"


class OutOfBoundsError(SketchplotError):
    """A drawing that does not fit the machine's work area."""


PEN_CHANGE_NOTE = "pen change: layer {}"


def pen_layers(document: vp.Document) -> list[int]:
    """Ids of the layers that draw something, in drawing order: one pen each, so a job has
    ``len(pen_layers(document)) - 1`` pen changes."""
    return [
        layer_id for layer_id in sorted(document.layers) if any(len(line) for line in document.layers[layer_id].lines)
    ]


def document_layers_mm(document: vp.Document) -> tuple[list[tuple[int, list[np.ndarray]]], tuple[float, float]]:
    """Page-mm complex paths of each non-empty layer (``pen_layers`` order) and the page size in mm."""
    if document.page_size is None:
        raise SketchplotError("the document has no page size; lay it out on a paper first")
    width, height = (v / PX_PER_MM for v in document.page_size)
    layers = [
        (
            layer_id,
            [np.asarray(line, dtype=complex) / PX_PER_MM for line in document.layers[layer_id].lines if len(line)],
        )
        for layer_id in pen_layers(document)
    ]
    return layers, (width, height)


def to_machine_layers(document: vp.Document, profile: MachineProfile) -> list[tuple[int, list[np.ndarray]]]:
    """Pen-down paths per non-empty layer: (layer id, its (N, 2) machine-mm arrays rounded to
    the profile's decimals).

    Refuses the job if any point lies outside the work area, naming the first such point
    (machine and page mm) and the limit it breaks: never clipped or wrapped output.
    """
    layers, (page_w, page_h) = document_layers_mm(document)
    paths = [path for _, layer_paths in layers for path in layer_paths]
    machine_paths = []
    for path in paths:
        mx, my = profile.page_to_machine(path.real, path.imag, page_h, page_w)
        machine_paths.append(np.round(np.column_stack([mx, my]), profile.decimals))
    tol = 0.5 * 10.0**-profile.decimals
    limits = ((profile.x_min, profile.x_max), (profile.y_min, profile.y_max))
    for path, xy in zip(paths, machine_paths):
        if not np.isfinite(xy).all():
            page_point = path[np.flatnonzero(~np.isfinite(xy).all(axis=1))[0]]
            raise OutOfBoundsError(
                f"a point of the drawing is not a finite number (page {page_point}); nothing was written"
            )
        for axis, (low, high) in enumerate(limits):
            outside = np.flatnonzero((xy[:, axis] < low - tol) | (xy[:, axis] > high + tol))
            if outside.size:
                x, y = xy[outside[0]]
                page_point = path[outside[0]]
                value = xy[outside[0], axis]
                limit = f"{'xy'[axis]} {'<' if value < low else '>'} {low if value < low else high:g}"
                raise OutOfBoundsError(
                    f"point ({x:g}, {y:g}) mm (page {page_point.real:.1f}, {page_point.imag:.1f} mm on a "
                    f"{page_w:g} x {page_h:g} mm page) is outside the work area of "
                    f"'{profile.name}' (x {profile.x_min:g}..{profile.x_max:g}, y "
                    f"{profile.y_min:g}..{profile.y_max:g} mm): {limit}"
                )
    machine_layers, start = [], 0
    for layer_id, layer_paths in layers:
        machine_layers.append((layer_id, machine_paths[start : start + len(layer_paths)]))
        start += len(layer_paths)
    return machine_layers


class NonFiniteNumberError(SketchplotError):
    """A NaN or infinite number on its way into G-code."""


def format_number(value: float, decimals: int) -> str:
    """Shortest fixed-point text at ``decimals`` places: 12.50 -> 12.5, -0.00 -> 0. Never NaN or inf."""
    if not math.isfinite(value):
        raise NonFiniteNumberError(f"refusing to write {value} into G-code")
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def safe_comment(text: str) -> str:
    """A G-code comment GRBL will not act on: printable ASCII, no parentheses or real-time chars."""
    kept = "".join(c for c in text if 32 <= ord(c) < 127 and c not in REALTIME_CHARACTERS + "();")
    return f"({kept.strip()[: GRBL_LINE_LIMIT - 2]})"


class _Emitter:
    """Accumulates G-code lines while tracking pen, position and modal feed."""

    def __init__(self, profile: MachineProfile):
        self.profile = profile
        self.lines: list[str] = []
        self.position: tuple[float, float] | None = None
        self.feed: float | None = None
        self.pen_down: bool | None = None

    def num(self, value: float) -> str:
        return format_number(value, self.profile.decimals)

    def emit(self, line: str) -> None:
        self.lines.append(line)

    def pen(self, down: bool) -> None:
        if self.pen_down is down:
            return
        pen = self.profile.pen
        if pen.method == "servo":
            self.emit(f"M3 S{self.num(pen.down if down else pen.up)}")
        elif down:
            self.emit(f"G1 Z{self.num(pen.down)} F{self.num(pen.z_feed)}")
            self.feed = pen.z_feed
        else:
            self.emit(f"G0 Z{self.num(pen.up)}")
        if pen.settle_after(down) > 0:
            self.emit(f"G4 P{format_number(pen.settle_after(down), 3)}")
        self.pen_down = down

    def _within_a_step(self, x: float, y: float) -> bool:
        return (
            self.position is not None
            and max(abs(x - self.position[0]), abs(y - self.position[1])) < self.profile.step_mm
        )

    def travel(self, x: float, y: float) -> None:
        if self.position == (x, y):
            return
        self.pen(False)
        if self._within_a_step(x, y):
            return
        self.emit(f"G0 X{self.num(x)} Y{self.num(y)}")
        self.position = (x, y)

    def draw(self, x: float, y: float) -> None:
        if self._within_a_step(x, y):
            return
        feed = ""
        if self.feed != self.profile.draw_feed:
            feed = f" F{self.num(self.profile.draw_feed)}"
            self.feed = self.profile.draw_feed
        self.emit(f"G1 X{self.num(x)} Y{self.num(y)}{feed}")
        self.position = (x, y)


def gcode_lines(document: vp.Document, profile: MachineProfile, *, title: str = "") -> list[str]:
    """The job as a list of G-code lines (no line terminators); a pen change (park, ``M0``)
    between consecutive non-empty layers."""
    layers = to_machine_layers(document, profile)
    park_x, park_y = (round(v, profile.decimals) for v in profile.park_position)
    out = _Emitter(profile)
    out.emit(safe_comment(" ".join(filter(None, ["sketchplot", title, "for", profile.name]))))
    out.emit("G21")
    out.emit("G90")
    if profile.homing:
        out.emit("$H")
    out.pen(False)
    for number, (layer_id, paths) in enumerate(layers):
        if number > 0:
            out.travel(park_x, park_y)
            out.emit("M0 " + safe_comment(PEN_CHANGE_NOTE.format(layer_id)))
        for path in paths:
            # plain floats: rounded numpy values compare exactly against the tracked position
            points = [(float(x), float(y)) for x, y in path]
            out.travel(*points[0])
            out.pen(True)
            for point in points[1:]:
                out.draw(*point)
            out.pen(False)
    out.travel(park_x, park_y)
    if profile.program_end:
        out.emit(profile.program_end)
    return out.lines


def write_gcode(document: vp.Document, profile: MachineProfile, *, title: str = "") -> str:
    """The job as G-code text, one command per line, ending with a newline."""
    return "\n".join(gcode_lines(document, profile, title=title)) + "\n"
