"""GRBL 1.1's protocol and machine state, driven by ``receive`` / ``advance`` / ``take_output``.

What it models, because the streamer depends on it: GRBL's 128-byte serial RX buffer
(overflow is detected and reported, where real GRBL silently drops bytes), the 80-byte line
buffer (error:11), a 15-block planner that ``ok`` only means a line was planned into, lines that synchronise the planner first (dwells, spindle/servo changes, program
pause and end), the program pause M0 (the planned moves finish, then ``Hold:0`` until cycle
start ``~``, and only then the M0 line's ``ok``, as GRBL 1.1's gc_execute_line), real-time bytes ``?`` ``!`` ``~`` and Ctrl-X, alarms and the alarm lock, check mode
(``$C``; homing and the EEPROM commands answer error:8 there), soft limits (ALARM:2) over
GRBL's travel (0..max travel with ``machine_space = "positive"``, GRBL built with
HOMING_FORCE_SET_ORIGIN; -max travel..0 for stock GRBL), a G54 work offset (``work_offset``,
reported as WCO and by ``$#``) and the startup banner. Motion is executed by the same
``Interpreter`` the estimator uses (in work coordinates), and pen-down motion is recorded as
polylines in machine mm.

Time: the simulator runs on a clock its driver advances. With the link model on (``baud``),
bytes take 10 bits each to arrive. The pyserial handler (``protocol_sim``) either advances the
clock with the wall clock (``realtime=1``) or jumps it to the next event whenever the host waits
for an answer (``realtime=0``): the same ordering of events as a real machine, without the
waiting. With ``realtime=1`` blocks accelerate and corner like GRBL's planner (see
``GrblSimulator._plan_head``); with ``realtime=0`` they take length / feed, a constant speed.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from sketchplot.core.grbl.codes import CRITICAL_ALARMS, is_sync
from sketchplot.core.grbl.interpreter import (
    Dwell,
    GCodeError,
    Interpreter,
    Motion,
    PathRecorder,
    Pause,
    PenChange,
    clean_line,
    parse_line,
)
from sketchplot.core.grbl.planner import Axes, MoveLimits, forward_move, junction_cap_sqr, reverse_pass
from sketchplot.core.grbl.protocol import PLANNER_BLOCKS
from sketchplot.core.profiles import MachineProfile
from sketchplot.machines.simulator.config import SimConfig

VERSION = "1.1h"
BANNER = f"\r\nGrbl {VERSION} ['$' for help]\r\n".encode()
UNLOCK_MESSAGE = b"[MSG:'$H'|'$X' to unlock]\r\n"
RX_BUFFER_BYTES = 128  # GRBL 1.1's serial RX buffer (its ring holds all 128)
LINE_BUFFER_BYTES = 80
STATUS, FEED_HOLD, CYCLE_START, SOFT_RESET = 0x3F, 0x21, 0x7E, 0x18
GARBAGE = b"\xfe\x8d#\xa4\xff~\x01\r\n"  # what a wrong baud rate or line noise looks like


class PortGone(Exception):
    """The simulated port died (``disconnect_after``) or the host overflowed GRBL's RX buffer."""


@dataclass
class _Item:
    """A planner entry: a motion (a block, takes time) or a pen change (takes none).

    With the acceleration model a motion's duration is None until it starts (``_plan_head``);
    ``limits`` and ``cap_sqr`` (its entry speed squared allowed by the junction with the item
    before it in the planner) are filled in when it enters the planner."""

    event: Motion | PenChange | Dwell | Pause
    duration: float | None
    limits: MoveLimits | None = None
    cap_sqr: float = 0.0
    exit_sqr: float = 0.0


class GrblSimulator:
    """GRBL 1.1's protocol and machine state, driven by ``receive`` / ``advance`` / ``take_output``."""

    def __init__(self, config: SimConfig, timed: bool = True):
        self.config = config
        self.timed = timed  # False: motion and dwells take no time (an infinitely fast machine)
        self.accelerated = timed and config.realtime  # GRBL's acceleration and cornering
        self.axes = Axes.of(config.profile)
        self.profile = config.profile
        self.faults = config.faults
        self.clock = 0.0
        self.recorder = PathRecorder()
        self.pauses: list[
            dict
        ] = []  # each M0 hold: received_line (1-based, as the faults count), position, polylines drawn before
        self.settings = {
            10: 1,
            11: self.profile.junction_deviation,
            12: 0.002,
            20: int(self.profile.soft_limits),
            22: int(self.profile.homing),
            110: self.profile.max_rate[0],
            111: self.profile.max_rate[1],
            120: self.profile.acceleration[0],
            121: self.profile.acceleration[1],
            **_travel_settings(self.profile),
        }
        self.work_offset = config.work_offset
        self.lines_received = 0
        self.bytes_received = 0
        self.rx_overflows = 0
        self.rx_peak = 0  # the most bytes ever waiting in the RX buffer
        self.gone = False
        self.overflow_reported = False
        self.reports = 0
        self._wire: deque[tuple[float, int]] = deque()  # host -> GRBL bytes with arrival times
        self._wire_free_at = 0.0
        self._out: deque[tuple[float, float, bytes]] = deque()  # (clock ready, wall ready, bytes)
        self._out_free_at = 0.0
        self.interpreter = Interpreter(self.profile, self.work_offset)
        self.machine_position = (0.0, 0.0, 0.0)  # machine mm: work coordinates plus work_offset
        self.interpreter.place(self._to_work(self.machine_position))
        self._reset_state()
        self.alarm = self.profile.homing  # GRBL with homing enabled starts locked
        self._emit(BANNER + (UNLOCK_MESSAGE if self.alarm else b""), boot=True)

    def _reset_state(self) -> None:
        self.rx = bytearray()
        self.planner: deque[_Item] = deque()
        self.head_start = self.clock
        self.head_entry_sqr = 0.0  # speed squared at which the head block starts
        self.held = False
        self.program_paused = False  # held by M0: its ok waits for cycle start
        self.check_interpreter: Interpreter | None = None
        self.critical = False  # ALARM 1/2: everything but reset is ignored
        self._waiting: tuple[deque[_Item], bool, bytes] | None = None  # (items left, sync, answer)
        self._wco_shown: tuple[float, float, float] | None = None

    # ---- host side ---------------------------------------------------------------------------

    def receive(self, data: bytes, now: float) -> None:
        """The host wrote ``data`` at clock time ``now``."""
        if self.gone:
            raise PortGone("port disconnected")
        for byte in data:
            if self.config.baud:
                self._wire_free_at = max(now, self._wire_free_at) + 10.0 / self.config.baud
                self._wire.append((self._wire_free_at, byte))
            else:
                self._wire.append((now, byte))
        self.advance(now)

    def take_output(self, wall: float) -> bytes:
        """The bytes that have reached the host by now."""
        out = bytearray()
        while self._out and self._out[0][0] <= self.clock + 1e-12 and self._out[0][1] <= wall:
            out += self._out.popleft()[2]
        return bytes(out)

    def next_output_wall(self) -> float | None:
        return self._out[0][1] if self._out and self._out[0][0] <= self.clock + 1e-12 else None

    def next_event(self) -> float | None:
        """Clock time of the next thing that happens without the host doing anything."""
        times = []
        if self._wire:
            times.append(self._wire[0][0])
        if self.planner and not self.held and not self.critical:
            times.append(self.head_start + self._head_duration())
        if self._out and self._out[0][0] > self.clock:
            times.append(self._out[0][0])
        return min(times) if times else None

    def advance(self, until: float) -> None:
        """Run everything that happens up to clock time ``until``."""
        while True:
            self._parse()
            when = self.next_event()
            if when is None or when > until:
                break
            self.clock = max(self.clock, when)
            self._fire()
        self.clock = max(self.clock, until)
        self._parse()

    # ---- events ------------------------------------------------------------------------------

    def _fire(self) -> None:
        while self._wire and self._wire[0][0] <= self.clock and not self.gone:
            byte = self._wire.popleft()[1]
            self._arrive(byte)
            if byte in (10, 13):
                self._parse()  # GRBL parses a line as soon as it is complete
        if self.planner and not self.held and not self.critical:
            duration = self._head_duration()
            if self.head_start + duration <= self.clock + 1e-12:
                self._complete_head(self.head_start + duration)

    def _complete_head(self, at: float) -> None:
        item = self.planner.popleft()
        self._execute(item.event)
        self.head_start = at
        self.head_entry_sqr = item.exit_sqr

    def _head_duration(self) -> float:
        head = self.planner[0]
        if head.duration is None:
            self._plan_head()
        return head.duration

    def _plan_head(self) -> None:
        """Time the head block as it starts, like GRBL's planner: it enters at the previous
        block's exit speed and leaves at the fastest speed from which every block queued behind
        it can still corner at its junctions and stop at the end of the planner buffer (or at
        the next dwell or pen change, which synchronise). Approximation: real GRBL replans the
        running block when more blocks arrive; here its exit speed is fixed when it starts, so a
        block that starts with a nearly empty buffer brakes more than GRBL would."""
        head = self.planner[0]
        run = []
        for item in self.planner:
            if not isinstance(item.event, Motion):
                break
            run.append(item)
        caps_sqr = [self.head_entry_sqr] + [item.cap_sqr for item in run[1:]]
        entry_sqr = reverse_pass([item.limits for item in run], caps_sqr)
        head.duration, head.exit_sqr = forward_move(head.limits, self.head_entry_sqr, entry_sqr[1])

    def _to_work(self, position: tuple[float, ...]) -> tuple[float, float, float]:
        return tuple(p - o for p, o in zip(position, self.work_offset))

    def _to_machine(self, position: tuple[float, ...]) -> tuple[float, float, float]:
        return tuple(p + o for p, o in zip(position, self.work_offset))

    def _execute(self, event) -> None:
        if isinstance(event, Motion):
            self.machine_position = self._to_machine(event.end)
            event = Motion(
                self._to_machine(event.start),
                self.machine_position,
                event.rapid,
                event.feed,
                event.pen_down,
                event.line_no,
            )
        self.recorder.feed([event])
        if isinstance(event, Pause):  # GRBL 1.1 uses a feed hold for the program pause
            self.recorder.break_line()
            self.pauses.append(
                {
                    "received_line": event.line_no,
                    "position": list(self.machine_position),
                    "drawn": len(self.recorder.polylines),
                }
            )
            self.held = self.program_paused = True

    def _arrive(self, byte: int) -> None:
        self.bytes_received += 1
        limit = self.faults.disconnect_after
        if limit is not None and self.bytes_received > limit:
            self.gone = True
            self._wire.clear()
            return
        if byte == STATUS:
            self._emit(self._status())
        elif byte == FEED_HOLD:
            self._feed_hold()
        elif byte == CYCLE_START:
            if self.held:
                self.held = self.program_paused = False
                self.head_start = self.clock
        elif byte == SOFT_RESET:
            self._soft_reset()
        elif len(self.rx) >= RX_BUFFER_BYTES:
            self.rx_overflows += 1  # real GRBL drops the byte without a word
        else:
            self.rx.append(byte)
            self.rx_peak = max(self.rx_peak, len(self.rx))

    def _emit(self, data: bytes, boot: bool = False) -> None:
        """Queue ``data`` for the host; the power-on banner waits ``boot_ms`` (everything after
        it waits behind it)."""
        ready = self.clock
        if self.config.baud:
            self._out_free_at = max(self.clock, self._out_free_at) + 10.0 * len(data) / self.config.baud
            ready = self._out_free_at
        delay_ms = self.faults.delay_ms + (self.faults.boot_ms if boot else 0.0)
        self._out.append((ready, time.monotonic() + delay_ms / 1000.0, data))

    def _running(self) -> bool:
        return bool(self.planner)

    def _stop_motion(self) -> None:
        """Stop where the machine is now: the head block is split at its done fraction of time
        (with acceleration that point is approximate, and the machine stops at once where GRBL
        would decelerate)."""
        if not self.planner or self.held:
            return
        head = self.planner[0]
        if isinstance(head.event, Motion) and self._head_duration() > 0:
            done = min(1.0, max(0.0, (self.clock - self.head_start) / head.duration))
            if done > 0:
                m = head.event
                point = tuple(a + (b - a) * done for a, b in zip(m.start, m.end))
                self._execute(Motion(m.start, point, m.rapid, m.feed, m.pen_down, m.line_no))
                head.event = Motion(point, m.end, m.rapid, m.feed, m.pen_down, m.line_no)
                head.duration *= 1.0 - done
            if self.accelerated and head.event.length > 0:  # what is left starts again from rest
                head.limits = MoveLimits.of(head.event, self.axes)
                head.duration = None
        self.head_start = self.clock
        self.head_entry_sqr = 0.0

    def _feed_hold(self) -> None:
        if self.alarm or self.check_interpreter is not None or self.held:
            return
        self._stop_motion()
        self.held = True

    def _soft_reset(self) -> None:
        moving = self._running() and not self.held
        self._stop_motion()
        self.recorder.break_line()
        if moving:
            self._emit(b"ALARM:3\r\n")
            self.alarm = True
        self.alarm = self.alarm or self.critical
        self._reset_state()
        self.interpreter = Interpreter(self.profile, self.work_offset)
        self.interpreter.place(self._to_work(self.machine_position))
        self._emit(BANNER + (UNLOCK_MESSAGE if self.alarm else b""))

    def _raise_alarm(self, code: int) -> None:
        self._stop_motion()
        self.recorder.break_line()
        self.planner.clear()
        self._waiting = None
        self.held = False
        self.alarm = True
        self._emit(f"ALARM:{code}\r\n".encode())
        if code in CRITICAL_ALARMS:
            self.critical = True
            self._emit(b"[MSG:Reset to continue]\r\n")
        self.interpreter = Interpreter(self.profile, self.work_offset)
        self.interpreter.place(self._to_work(self.machine_position))

    def _position(self) -> tuple[float, float, float]:
        """Machine position now (mm)."""
        if self.planner and not self.held and isinstance(self.planner[0].event, Motion):
            head = self.planner[0]
            duration = self._head_duration()
            done = min(1.0, max(0.0, (self.clock - self.head_start) / duration)) if duration else 0.0
            m = head.event
            return self._to_machine(tuple(a + (b - a) * done for a, b in zip(m.start, m.end)))
        return self.machine_position

    def _wco(self) -> tuple[float, float, float]:
        """GRBL's WCO: G54 plus G92 (no tool length offset here)."""
        return tuple(w + g for w, g in zip(self.work_offset, self.interpreter.offset))

    def _beyond_travel(self, work_position: tuple[float, ...]) -> bool:
        """GRBL's soft-limit test in machine coordinates: 0..max travel ($130, $131) in a
        positive machine space, -max travel..0 in stock GRBL's negative one."""
        machine = self._to_machine(work_position)
        for value, travel in zip(machine[:2], (float(self.settings[130]), float(self.settings[131]))):
            low, high = (0.0, travel) if self.profile.machine_space == "positive" else (-travel, 0.0)
            if not low - 1e-9 <= value <= high + 1e-9:
                return True
        return False

    def _state(self) -> str:
        if self.alarm:
            return "Alarm"
        if self.check_interpreter is not None:
            return "Check"
        if self.held:
            return "Hold:0"
        return "Run" if self._running() or self._waiting else "Idle"

    def _status(self) -> bytes:
        """GRBL 1.1 report, fields chosen by $10 like GRBL (bit 0: MPos, bit 1: Bf)."""
        mask = int(self.settings[10])
        position = self._position()
        offset = self._wco()
        shown = position if mask & 1 else tuple(p - o for p, o in zip(position, offset))
        fields = [self._state(), ("MPos:" if mask & 1 else "WPos:") + ",".join(f"{v:.3f}" for v in shown)]
        if mask & 2:
            blocks = sum(isinstance(item.event, Motion) for item in self.planner)
            fields.append(f"Bf:{PLANNER_BLOCKS - blocks},{RX_BUFFER_BYTES - len(self.rx)}")
        running = self.planner and not self.held and isinstance(self.planner[0].event, Motion)
        feed = self.planner[0].event.feed if running else 0.0
        speed = self.interpreter.s_value if self.interpreter.spindle_on else 0.0
        fields.append(f"FS:{feed:g},{speed:g}")
        if self.reports % 10 == 0 or self._wco_shown != offset:
            fields.append("WCO:" + ",".join(f"{v:.3f}" for v in offset))
            self._wco_shown = offset
        self.reports += 1
        return ("<" + "|".join(fields) + ">\r\n").encode()

    # ---- the line parser ---------------------------------------------------------------------

    def _parse(self) -> None:
        """GRBL's main loop: take lines out of the RX buffer while the planner has room."""
        while not self.critical and not self.gone:
            if self._waiting is not None:
                if not self._feed_planner():
                    return
                continue
            end = next((i for i, b in enumerate(self.rx) if b in (10, 13)), None)
            if end is None:
                return
            raw = bytes(self.rx[:end]).decode("latin-1")
            del self.rx[: end + 1]
            self._line(raw)

    def _feed_planner(self) -> bool:
        """Move the waiting line's items into the planner; True once its answer has been sent."""
        items, sync, answer = self._waiting
        if sync and self.planner:
            return False
        while items:
            item = items[0]
            if isinstance(item.event, Motion):
                if sum(isinstance(i.event, Motion) for i in self.planner) >= PLANNER_BLOCKS:
                    return False
            if not self.planner:
                self.head_start = self.clock
            if self.accelerated and isinstance(item.event, Motion):
                item.limits = MoveLimits.of(item.event, self.axes)
                previous = self.planner[-1] if self.planner else None
                if previous is not None and previous.limits is not None:
                    item.cap_sqr = junction_cap_sqr(previous.limits, item.limits, self.axes, float(self.settings[11]))
            self.planner.append(items.popleft())
            if not isinstance(self.planner[0].event, Motion) and not self.held:
                self._complete_zero_time_head()
        if sync and (self.planner or self.program_paused):
            return False  # a dwell runs, a pause is resumed, before GRBL answers
        self._waiting = None
        self._emit(answer)
        return True

    def _complete_zero_time_head(self) -> None:
        while self.planner and self.planner[0].duration == 0 and not self.held:
            self._complete_head(self.clock)

    def _answer(self, text: str) -> None:
        self._emit(text.encode() + b"\r\n")

    def _line(self, raw: str) -> None:
        text = clean_line(raw)
        if not text:
            self._answer("ok")
            return
        self.lines_received += 1
        number = self.lines_received
        faults = self.faults
        if number == faults.reset_at:
            self._soft_reset()
            return
        if number == faults.error_at:
            self._answer(f"error:{faults.error}")
            return
        if number == faults.alarm_at:
            self._raise_alarm(faults.alarm)
            return
        answer = GARBAGE if number == faults.garbage_at else b"ok\r\n"
        if len(text) >= LINE_BUFFER_BYTES:
            self._answer("error:11")
        elif text.startswith("$"):
            self._system(text)
        elif self.alarm:
            self._answer("error:9")
        else:
            self._gcode(raw, text, answer)

    def _gcode(self, raw: str, text: str, answer: bytes) -> None:
        interpreter = self.check_interpreter or self.interpreter
        spindle_before = (interpreter.spindle_on, interpreter.s_value)
        try:
            block = parse_line(raw, self.lines_received)
            events = interpreter.execute(block)
        except GCodeError as exc:
            self._answer(f"error:{exc.code}")
            return
        if self.settings[20]:
            for event in events:
                if isinstance(event, Motion) and self._beyond_travel(event.end):
                    self._raise_alarm(2)
                    return
        if self.check_interpreter is not None:
            self._emit(answer)
            return
        sync = is_sync(block, events, spindle_before, (interpreter.spindle_on, interpreter.s_value))
        items = deque(_Item(e, self._duration(e)) for e in events)
        self._waiting = (items, sync, answer)

    def _duration(self, event) -> float | None:
        if not self.timed:
            return 0.0
        if isinstance(event, Motion):
            return None if self.accelerated else event.length / (event.feed / 60.0)
        if isinstance(event, Dwell):
            return event.seconds
        return 0.0

    def _system(self, text: str) -> None:
        idle = not self._running() and self._waiting is None
        if text not in ("$", "$$", "$G", "$C", "$X") and (self.check_interpreter is not None or self.held):
            self._answer("error:8")  # GRBL runs these only when idle or in alarm
        elif text == "$X":
            if self.alarm:
                self.alarm = False
                self._answer("[MSG:Caution: Unlocked]")
            self._answer("ok")
        elif text == "$H":
            if not self.settings[22]:
                self._answer("error:5")
            elif not idle:
                self._answer("error:8")
            else:  # machine zero at the switches (pull-off left out)
                self.machine_position = (0.0, 0.0, self.machine_position[2])
                self.interpreter.place(self._to_work(self.machine_position))
                self.alarm = False
                self._answer("ok")
        elif text == "$C":
            if self.check_interpreter is not None:
                self._answer("[MSG:Disabled]")
                self._answer("ok")
                self._soft_reset()
            elif not idle or self.alarm:
                self._answer("error:8")
            else:
                self.check_interpreter = self.interpreter.copy()
                self._answer("[MSG:Enabled]")
                self._answer("ok")
        elif text == "$$":
            for key, value in self.settings.items():
                self._answer(f"${key}={value:g}" if isinstance(value, float) else f"${key}={value}")
            self._answer("ok")
        elif text == "$#":
            for name in ("G54", "G55", "G56", "G57", "G58", "G59", "G28", "G30"):
                offset = self.work_offset if name == "G54" else (0.0, 0.0, 0.0)
                self._answer(f"[{name}:" + ",".join(f"{v:.3f}" for v in offset) + "]")
            self._answer("[G92:" + ",".join(f"{v:.3f}" for v in self.interpreter.offset) + "]")
            self._answer("[TLO:0.000]")
            self._answer("[PRB:0.000,0.000,0.000:0]")
            self._answer("ok")
        elif text == "$":
            self._answer("[HLP:$$ $# $G $I $N $x=val $Nx=line $J=line $SLP $C $X $H ~ ! ? ctrl-x]")
            self._answer("ok")
        elif text == "$N":
            self._answer("$N0=")
            self._answer("$N1=")
            self._answer("ok")
        elif text == "$I":
            self._answer(f"[VER:{VERSION}.20190825:]")
            self._answer("[OPT:V,15,128]")
            self._answer("ok")
        elif text == "$G":
            it = self.interpreter
            self._answer(
                f"[GC:G{it.motion_mode:g} G54 G17 {'G20' if it.inches else 'G21'} {'G91' if it.incremental else 'G90'} "
                f"G94 {'M3' if it.spindle_on else 'M5'} M9 T0 F{(it.feed or 0):g} S{it.s_value:g}]"
            )
            self._answer("ok")
        elif "=" in text and text[1:].split("=")[0].isdigit():
            key, value = text[1:].split("=", 1)
            if int(key) not in self.settings:
                self._answer("error:3")
            elif not idle:
                self._answer("error:8")
            else:
                try:
                    self.settings[int(key)] = float(value) if "." in value else int(value)
                except ValueError:
                    self._answer("error:2")
                    return
                self._answer("ok")
        else:
            self._answer("error:3")

    def polylines(self) -> list[np.ndarray]:
        """Pen-down polylines drawn so far (machine mm)."""
        self.recorder.break_line()
        return list(self.recorder.polylines)


def _travel_settings(profile: MachineProfile) -> dict[int, float]:
    """$130/$131 (max travel) that make GRBL's soft-limit range hold the profile's work area."""
    if profile.machine_space == "positive":
        return {130: profile.x_max, 131: profile.y_max}
    return {130: -profile.x_min, 131: -profile.y_min}
