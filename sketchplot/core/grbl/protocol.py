"""GRBL 1.1's serial protocol: buffer sizes, real-time bytes, the banner, what a job may send,
and the status report parser."""

from __future__ import annotations

import re
from dataclasses import dataclass

RX_BUFFER_BYTES = 127
PLANNER_BLOCKS = 15
STATUS_QUERY, FEED_HOLD, CYCLE_START, SOFT_RESET = b"?", b"!", b"~", b"\x18"
BANNER = re.compile(r"Grbl ([0-9]+\.[0-9]+[A-Za-z0-9]*) \['\$' for help\]")
GRBL_LINE_LIMIT = 79  # GRBL's 80-byte line buffer holds 79 characters
REALTIME_CHARACTERS = "?!~"
# $ lines a job may contain: homing, unlock, check mode and the reports. Everything else
# either writes GRBL's EEPROM (settings, $RST, $I=, $N0=) or moves without our checks ($J=).
SYSTEM_COMMANDS = frozenset({"$", "$$", "$#", "$G", "$I", "$N", "$H", "$X", "$C"})
SETTINGS_WRITE = re.compile(r"\$([0-9]+|RST|I|N[0-9]+)=.*")


@dataclass(frozen=True)
class Status:
    """A parsed GRBL 1.1 status report ``<Idle|MPos:..|Bf:..|FS:..|WCO:..>``."""

    state: str
    substate: int | None = None
    mpos: tuple[float, ...] | None = None
    wpos: tuple[float, ...] | None = None
    wco: tuple[float, ...] | None = None
    feed: float | None = None
    speed: float | None = None
    planner_free: int | None = None
    rx_free: int | None = None


def parse_status(line: str, wco: tuple[float, ...] | None = None) -> Status:
    """Parse a report; ``wco`` (the last offset seen) fills in MPos/WPos when only one is sent."""
    fields = line.strip()[1:-1].split("|")
    state, _, sub = fields[0].partition(":")
    values: dict[str, tuple[float, ...]] = {}
    for item in fields[1:]:
        name, _, text = item.partition(":")
        try:
            values[name] = tuple(float(v) for v in text.split(","))
        except ValueError:
            continue
    wco = values.get("WCO", wco)
    mpos, wpos = values.get("MPos"), values.get("WPos")
    if wco is not None:
        if mpos is None and wpos is not None:
            mpos = tuple(w + o for w, o in zip(wpos, wco))
        if wpos is None and mpos is not None:
            wpos = tuple(m - o for m, o in zip(mpos, wco))
    feed_speed = values.get("FS") or values.get("F")
    buffers = values.get("Bf")
    return Status(
        state=state,
        substate=int(sub) if sub.isdigit() else None,
        mpos=mpos,
        wpos=wpos,
        wco=wco,
        feed=feed_speed[0] if feed_speed else None,
        speed=feed_speed[1] if feed_speed and len(feed_speed) > 1 else None,
        planner_free=int(buffers[0]) if buffers else None,
        rx_free=int(buffers[1]) if buffers and len(buffers) > 1 else None,
    )
