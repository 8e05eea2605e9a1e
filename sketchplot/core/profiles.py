"""Machine profiles: what a pen plotter can reach and how it lifts its pen.

Profiles are TOML files. Shipped ones live in ``sketchplot/machines/profiles/``; users add
their own in ``$SKETCHPLOT_CONFIG_DIR/machines`` (default ``~/.config/sketchplot/machines``)
or pass a path to a ``.toml`` file anywhere a profile name is accepted.

Coordinates. The plotter layer works in *page* millimetres: origin at the paper's top-left
corner, x to the right, y **down** (the convention of Quick, Draw!, SVG and vpype). The
paper lies on the machine's work area with its corner ``origin`` at machine
(x_min, y_min); machine +X runs along the paper's horizontal edge and +Y along its vertical
edge, away from that corner. ``page_to_machine`` is the one place where y is flipped, so a
drawing is never mirrored.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from sketchplot.core.errors import SketchplotError
from sketchplot.core.paths import user_profile_dir

Coordinate = float | np.ndarray  # one value, or every point of a drawing at once
ORIGINS = ("bottom-left", "top-left", "bottom-right", "top-right")
PEN_METHODS = ("servo", "z")
MACHINE_SPACES = ("positive", "negative")


class ProfileError(SketchplotError):
    """A machine profile that cannot be found or does not make sense."""


@dataclass(frozen=True)
class PenConfig:
    """How the pen goes up and down.

    servo: ``M3 S<up>`` / ``M3 S<down>`` followed by a ``G4`` dwell; a servo whose PWM is
    switched off (M5, M2, M30, power-on) lets the pen fall, so it counts as down.
    z: ``G0 Z<up>`` / ``G1 Z<down> F<z_feed>``; the pen is down below the midpoint.

    The dwell after the pen goes down (``settle_s``) must let it land and stop bouncing before
    it draws; the one after it goes up (``lift_settle_s``, default ``settle_s``) only has to
    let it clear the paper before the travel, so GRBL senders set the two apart.
    """

    method: str = "servo"
    up: float = 50.0
    down: float = 30.0
    settle_s: float = 0.15
    z_feed: float = 1000.0
    lift_settle_s: float | None = None

    def settle_after(self, down: bool) -> float:
        """Seconds of dwell after the pen goes down (``down``) or up."""
        if down or self.lift_settle_s is None:
            return self.settle_s
        return self.lift_settle_s

    def is_down(self, spindle_on: bool, s_value: float, z: float) -> bool:
        """The simulator's rule for whether the pen touches the paper."""
        if self.method == "servo":
            if not spindle_on:
                return True
            return abs(s_value - self.down) < abs(s_value - self.up)
        return z < (self.up + self.down) / 2


@dataclass(frozen=True)
class MachineProfile:
    """Everything the G-code writer, estimator, streamer and simulator need about a machine."""

    name: str
    description: str = ""
    x_min: float = 0.0
    x_max: float = 297.0
    y_min: float = 0.0
    y_max: float = 210.0
    origin: str = "bottom-left"
    paper: str = "a4"
    landscape: bool = True
    pen: PenConfig = field(default_factory=PenConfig)
    draw_feed: float = 3000.0  # mm/min, G1
    travel_feed: float = 6000.0  # mm/min, G0 runs at max_rate on GRBL; kept for info
    max_rate: tuple[float, float] = (8000.0, 8000.0)  # mm/min per axis ($110, $111)
    acceleration: tuple[float, float] = (1000.0, 1000.0)  # mm/s^2 per axis ($120, $121)
    steps_per_mm: tuple[float, float] = (80.0, 80.0)  # $100, $101: one step is the smallest move
    junction_deviation: float = 0.01  # mm ($11)
    # How far the drawn path may stray from the sketch (mm, both ways: every drawn point near a
    # stroke and every stroke point near the drawing): the room path optimisation may use to
    # join strokes, drop vertices and round corners. About a pen's width.
    drawing_tolerance: float = 0.3
    decimals: int = 2
    homing: bool = False
    soft_limits: bool = True
    # Where GRBL's soft limits put the travel: "positive" (0..max travel, GRBL built with
    # HOMING_FORCE_SET_ORIGIN) or "negative" (stock 1.1: machine zero at the home switches,
    # travel -max..0, so the work area lies at or below 0).
    machine_space: str = "positive"
    baud: int = 115200
    park: tuple[float, float] | None = None  # machine mm; None: (x_min, y_min)
    program_end: str = ""  # e.g. "M2"; empty for servo machines (M2 drops the pen)
    source: str = ""  # where it was loaded from

    @property
    def step_mm(self) -> float:
        """The coarser axis's step: GRBL plans no block for a move shorter than a step, so a
        shorter move is neither written nor counted on as a planner block."""
        return 1.0 / min(self.steps_per_mm)

    @property
    def width(self) -> float:
        return self.x_max - self.x_min

    @property
    def height(self) -> float:
        return self.y_max - self.y_min

    def page_to_machine(self, x: Coordinate, y: Coordinate, page_height: float, page_width: float) -> tuple:
        """Map page mm (y down, origin top-left) to machine mm; works on numpy arrays."""
        right = self.origin.endswith("right")
        bottom = self.origin.startswith("bottom")
        mx = self.x_min + ((page_width - x) if right else x)
        my = self.y_min + ((page_height - y) if bottom else y)
        return mx, my

    def machine_to_page(self, mx: Coordinate, my: Coordinate, page_height: float, page_width: float) -> tuple:
        """Inverse of ``page_to_machine``."""
        right = self.origin.endswith("right")
        bottom = self.origin.startswith("bottom")
        x = (page_width - (mx - self.x_min)) if right else (mx - self.x_min)
        y = (page_height - (my - self.y_min)) if bottom else (my - self.y_min)
        return x, y

    def contains(self, mx: float, my: float, tol: float = 1e-9) -> bool:
        return (self.x_min - tol <= mx <= self.x_max + tol) and (self.y_min - tol <= my <= self.y_max + tol)

    @property
    def park_position(self) -> tuple[float, float]:
        return self.park if self.park is not None else (self.x_min, self.y_min)

    def to_toml(self) -> str:
        """The profile as TOML, in the format ``load_profile`` reads."""
        lines = []
        for f in dataclasses.fields(self):
            if f.name in ("pen", "source", "name"):
                continue
            value = getattr(self, f.name)
            if value is None:
                continue
            lines.append(f"{f.name} = {_toml_value(value)}")
        lines.insert(0, f"name = {_toml_value(self.name)}")
        lines.append("")
        lines.append("[pen]")
        for f in dataclasses.fields(self.pen):
            if getattr(self.pen, f.name) is not None:
                lines.append(f"{f.name} = {_toml_value(getattr(self.pen, f.name))}")
        return "\n".join(lines) + "\n"


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def _shipped_profiles() -> dict[str, Path]:
    folder = resources.files("sketchplot.core") / "machine_profiles"
    return {Path(p.name).stem: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".toml")}


def _user_profiles() -> dict[str, Path]:
    folder = user_profile_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.toml"))}


def available_profiles() -> dict[str, Path]:
    """Profile name -> file; user profiles shadow shipped ones of the same name."""
    return {**_shipped_profiles(), **_user_profiles()}


DEFAULT_PROFILE = "a4-servo"


def load_profile(name_or_path: str | os.PathLike | None = None) -> MachineProfile:
    """Load a profile by name (shipped or user) or from a ``.toml`` path."""
    name_or_path = DEFAULT_PROFILE if name_or_path is None else name_or_path
    text = str(name_or_path)
    if text.endswith(".toml") or os.sep in text:
        path = Path(text)
        if not path.is_file():
            raise ProfileError(f"machine profile file not found: {path}")
    else:
        profiles = available_profiles()
        if text not in profiles:
            raise ProfileError(f"unknown machine '{text}' (available: {', '.join(sorted(profiles))})")
        path = profiles[text]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"cannot read machine profile {path}: {exc}") from None
    return profile_from_dict(data, default_name=path.stem, source=str(path))


def profile_from_dict(data: dict, default_name: str = "custom", source: str = "") -> MachineProfile:
    """Build and validate a profile from parsed TOML: every value type-checked, finite and in
    range, so a bad profile ends in one ProfileError naming the field, never in a traceback
    or a number GRBL cannot take."""
    where = source or default_name
    data = dict(data)
    pen_data = data.pop("pen", {})
    if not isinstance(pen_data, dict):
        raise ProfileError(f"{where}: [pen] must be a table (method, up, down, settle_s, lift_settle_s, z_feed)")
    known = {f.name for f in dataclasses.fields(MachineProfile)} - {"pen", "source"}
    unknown = set(data) - known
    if unknown:
        raise ProfileError(f"{where}: unknown profile keys: {', '.join(sorted(unknown))}")
    pen_known = {f.name for f in dataclasses.fields(PenConfig)}
    if set(pen_data) - pen_known:
        raise ProfileError(f"{where}: unknown [pen] keys: {', '.join(sorted(set(pen_data) - pen_known))}")
    data.setdefault("name", default_name)
    values = {key: _typed(where, key, _FIELD_KINDS[key], value) for key, value in data.items()}
    pen_values = {key: _typed(where, f"pen.{key}", _PEN_KINDS[key], value) for key, value in pen_data.items()}
    profile = MachineProfile(**values, pen=PenConfig(**pen_values), source=source)
    _validate(profile)
    return profile


MAX_DRAWING_TOLERANCE = 2.0  # mm: beyond a few pen widths the drawing is no longer the sketch
MAX_MAGNITUDE = 1e6  # mm, mm/min, mm/s^2, steps/mm: far beyond any plotter, and G-code numbers stay short

_FIELD_KINDS = {
    "name": str,
    "description": str,
    "origin": str,
    "paper": str,
    "program_end": str,
    "machine_space": str,
    "x_min": float,
    "x_max": float,
    "y_min": float,
    "y_max": float,
    "draw_feed": float,
    "travel_feed": float,
    "junction_deviation": float,
    "drawing_tolerance": float,
    "max_rate": "pair",
    "acceleration": "pair",
    "steps_per_mm": "pair",
    "park": "pair",
    "decimals": int,
    "baud": int,
    "landscape": bool,
    "homing": bool,
    "soft_limits": bool,
}
_PEN_KINDS = {"method": str, "up": float, "down": float, "settle_s": float, "lift_settle_s": float, "z_feed": float}
_KIND_WORDS = {
    str: "a string",
    float: "a number",
    int: "an integer",
    bool: "true or false",
    "pair": "a list of two numbers",
}


def _typed(where: str, key: str, kind, value):
    """``value`` as ``kind`` (str, float, int, bool or "pair"), or a ProfileError naming ``key``."""

    def refuse(problem: str = ""):
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise ProfileError(f"{where}: {key} must be {problem or _KIND_WORDS[kind]}, not {shown}")

    def number(item) -> float:
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            refuse()
        if not math.isfinite(item) or abs(item) > MAX_MAGNITUDE:
            refuse(f"a finite number of magnitude at most {MAX_MAGNITUDE:g}")
        return float(item)

    if kind == "pair":
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            refuse()
        return tuple(number(item) for item in value)
    if kind is float:
        return number(value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            refuse()
        return value
    if not isinstance(value, kind):
        refuse()
    return value


def _validate(p: MachineProfile) -> None:
    where = p.source or p.name
    if not p.name.strip():
        raise ProfileError(f"{where}: name must not be empty")
    if p.x_max <= p.x_min or p.y_max <= p.y_min:
        raise ProfileError(f"{where}: empty work area (x_max must exceed x_min and y_max must exceed y_min)")
    if p.origin not in ORIGINS:
        raise ProfileError(f"{where}: origin must be one of {', '.join(ORIGINS)}")
    if p.machine_space not in MACHINE_SPACES:
        raise ProfileError(f"{where}: machine_space must be 'positive' or 'negative'")
    if p.soft_limits and p.machine_space == "positive" and min(p.x_min, p.y_min) < 0:
        raise ProfileError(
            f"{where}: machine_space = 'positive': GRBL's soft limits allow 0..max travel, so x_min and y_min must be >= 0"
        )
    if p.soft_limits and p.machine_space == "negative" and max(p.x_max, p.y_max) > 0:
        raise ProfileError(
            f"{where}: machine_space = 'negative' (stock GRBL): soft limits allow -max travel..0, so x_max and y_max must be <= 0"
        )
    for key in ("draw_feed", "travel_feed", "max_rate", "acceleration", "steps_per_mm"):
        if min(_as_tuple(getattr(p, key))) <= 0:
            raise ProfileError(f"{where}: {key} must be positive")
    if p.junction_deviation < 0:
        raise ProfileError(f"{where}: junction_deviation must be >= 0")
    if not 0 <= p.drawing_tolerance <= MAX_DRAWING_TOLERANCE:
        raise ProfileError(f"{where}: drawing_tolerance must be 0..{MAX_DRAWING_TOLERANCE:g} mm")
    if not 0 <= p.decimals <= 5:
        raise ProfileError(f"{where}: decimals must be 0..5")
    if not 0 < p.baud <= 10_000_000:
        raise ProfileError(f"{where}: baud must be a positive rate such as 115200")
    if p.park is not None and not p.contains(*p.park):
        raise ProfileError(f"{where}: park position {p.park} is outside the work area")
    _validate_pen(where, p.pen)
    _validate_program_end(where, p.program_end)


def _as_tuple(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _validate_pen(where: str, pen: PenConfig) -> None:
    if pen.method not in PEN_METHODS:
        raise ProfileError(f"{where}: pen.method must be 'servo' or 'z'")
    if pen.up == pen.down:
        raise ProfileError(f"{where}: pen.up and pen.down must differ (both {pen.up:g})")
    if pen.method == "servo" and min(pen.up, pen.down) < 0:
        raise ProfileError(f"{where}: pen.up and pen.down are servo S values and must be >= 0")
    for key in ("settle_s", "lift_settle_s"):
        if (getattr(pen, key) or 0.0) < 0:
            raise ProfileError(f"{where}: pen.{key} must be >= 0")
    if pen.z_feed <= 0:
        raise ProfileError(f"{where}: pen.z_feed must be positive")


def _validate_program_end(where: str, text: str) -> None:
    """``program_end`` goes into every G-code file as it is: one short G-code line, no motion."""
    from sketchplot.core.grbl.interpreter import GCodeError, parse_line

    if not text:
        return
    if not (text.isascii() and text.isprintable()) or any(c in text for c in "?!~();$") or len(text) > 79:
        raise ProfileError(f'{where}: program_end must be one short line of plain G-code, e.g. "M2", not {text[:40]!r}')
    try:
        block = parse_line(text)
    except GCodeError as exc:
        raise ProfileError(f"{where}: program_end {text!r} is not valid G-code ({exc.reason})") from None
    if block is not None and any(letter in "XYZIJKR" for letter, _ in block.words):
        raise ProfileError(f"{where}: program_end {text!r} must not move the machine")
