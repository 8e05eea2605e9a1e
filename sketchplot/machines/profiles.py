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
import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from sketchplot.errors import SketchplotError

ORIGINS = ("bottom-left", "top-left", "bottom-right", "top-right")
PEN_METHODS = ("servo", "z")


class ProfileError(SketchplotError):
    """A machine profile that cannot be found or does not make sense."""


@dataclass(frozen=True)
class PenConfig:
    """How the pen goes up and down.

    servo: ``M3 S<up>`` / ``M3 S<down>`` followed by a ``G4 P<settle_s>`` dwell; a servo whose
    PWM is switched off (M5, M2, M30, power-on) lets the pen fall, so it counts as down.
    z: ``G0 Z<up>`` / ``G1 Z<down> F<z_feed>``; the pen is down below the midpoint.
    """

    method: str = "servo"
    up: float = 50.0
    down: float = 30.0
    settle_s: float = 0.15
    z_feed: float = 1000.0

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
    junction_deviation: float = 0.01  # mm ($11)
    decimals: int = 2
    homing: bool = False
    soft_limits: bool = True
    baud: int = 115200
    park: tuple[float, float] | None = None  # machine mm; None: (x_min, y_min)
    program_end: str = ""  # e.g. "M2"; empty for servo machines (M2 drops the pen)
    source: str = ""  # where it was loaded from

    @property
    def width(self) -> float:
        return self.x_max - self.x_min

    @property
    def height(self) -> float:
        return self.y_max - self.y_min

    def page_to_machine(self, x, y, page_height: float, page_width: float):
        """Map page mm (y down, origin top-left) to machine mm; works on numpy arrays."""
        right = self.origin.endswith("right")
        bottom = self.origin.startswith("bottom")
        mx = self.x_min + ((page_width - x) if right else x)
        my = self.y_min + ((page_height - y) if bottom else y)
        return mx, my

    def machine_to_page(self, mx, my, page_height: float, page_width: float):
        """Inverse of ``page_to_machine``."""
        right = self.origin.endswith("right")
        bottom = self.origin.startswith("bottom")
        x = (page_width - (mx - self.x_min)) if right else (mx - self.x_min)
        y = (page_height - (my - self.y_min)) if bottom else (my - self.y_min)
        return x, y

    def contains(self, mx: float, my: float, tol: float = 1e-9) -> bool:
        return (self.x_min - tol <= mx <= self.x_max + tol) and (
            self.y_min - tol <= my <= self.y_max + tol
        )

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


def user_config_dir() -> Path:
    """``$SKETCHPLOT_CONFIG_DIR`` or ``$XDG_CONFIG_HOME/sketchplot`` or ``~/.config/sketchplot``."""
    if os.environ.get("SKETCHPLOT_CONFIG_DIR"):
        return Path(os.environ["SKETCHPLOT_CONFIG_DIR"])
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "sketchplot"


def user_profile_dir() -> Path:
    return user_config_dir() / "machines"


def _shipped_profiles() -> dict[str, Path]:
    folder = resources.files("sketchplot.machines") / "profiles"
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
            raise ProfileError(
                f"unknown machine '{text}' (available: {', '.join(sorted(profiles))})"
            )
        path = profiles[text]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"cannot read machine profile {path}: {exc}") from None
    return profile_from_dict(data, default_name=path.stem, source=str(path))


def profile_from_dict(data: dict, default_name: str = "custom", source: str = "") -> MachineProfile:
    """Build and validate a profile from parsed TOML."""
    data = dict(data)
    pen_data = data.pop("pen", {})
    known = {f.name for f in dataclasses.fields(MachineProfile)}
    unknown = set(data) - known
    if unknown:
        raise ProfileError(f"{source or default_name}: unknown profile keys: {', '.join(sorted(unknown))}")
    pen_known = {f.name for f in dataclasses.fields(PenConfig)}
    if set(pen_data) - pen_known:
        raise ProfileError(
            f"{source or default_name}: unknown [pen] keys: {', '.join(sorted(set(pen_data) - pen_known))}"
        )
    for key in ("max_rate", "acceleration", "park"):
        if key in data:
            data[key] = tuple(float(v) for v in data[key])
    data.setdefault("name", default_name)
    try:
        profile = MachineProfile(**data, pen=PenConfig(**pen_data), source=source)
    except TypeError as exc:
        raise ProfileError(f"{source or default_name}: {exc}") from None
    _validate(profile)
    return profile


def _validate(p: MachineProfile) -> None:
    where = p.source or p.name
    if p.x_max <= p.x_min or p.y_max <= p.y_min:
        raise ProfileError(f"{where}: empty work area")
    if p.origin not in ORIGINS:
        raise ProfileError(f"{where}: origin must be one of {', '.join(ORIGINS)}")
    if p.pen.method not in PEN_METHODS:
        raise ProfileError(f"{where}: pen.method must be 'servo' or 'z'")
    if p.draw_feed <= 0 or min(p.max_rate) <= 0 or min(p.acceleration) <= 0:
        raise ProfileError(f"{where}: feeds, rates and accelerations must be positive")
    if not 0 <= p.decimals <= 5:
        raise ProfileError(f"{where}: decimals must be 0..5")
    if p.park is not None and not p.contains(*p.park):
        raise ProfileError(f"{where}: park position {p.park} is outside the work area")
