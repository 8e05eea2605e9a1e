"""What a ``sim://`` URL configures: the machine profile, fault injection, recording, timing."""

from __future__ import annotations

from dataclasses import dataclass, field

from sketchplot.core.errors import SketchplotError
from sketchplot.core.profiles import MachineProfile

URL_OPTIONS = (
    "profile",
    "record",
    "svg",
    "realtime",
    "baud",
    "error_at",
    "error",
    "alarm_at",
    "alarm",
    "disconnect_after",
    "delay_ms",
    "garbage_at",
    "reset_at",
    "work_offset",
    "boot_ms",
)


class SimulatorError(SketchplotError):
    """A bad ``sim://`` URL, or a record/SVG file that cannot be written."""


@dataclass(frozen=True)
class Faults:
    """Fault injection; line counts are 1-based over the non-empty lines received since power-on."""

    error_at: int | None = None
    error: int = 20
    alarm_at: int | None = None
    alarm: int = 2
    disconnect_after: int | None = None  # bytes received, real-time bytes included
    delay_ms: float = 0.0  # every answer reaches the host this much later (wall clock)
    garbage_at: int | None = None  # the line runs, its answer is line noise
    reset_at: int | None = None  # GRBL resets by itself instead of running the line
    boot_ms: float = 0.0  # the board boots this long (wall clock) before its banner, as an Arduino does


@dataclass
class SimConfig:
    profile: MachineProfile
    faults: Faults = field(default_factory=Faults)
    baud: int | None = None  # None: the link is instant
    record: str | None = None
    svg: str | None = None
    realtime: bool = False
    work_offset: tuple[float, float, float] = (0.0, 0.0, 0.0)  # G54 in GRBL's EEPROM (G10 L2 P1)
