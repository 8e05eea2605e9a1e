"""Stream G-code to GRBL 1.1 over pyserial, fast, and stop safely when anything goes wrong.

Protocol (GRBL 1.1 interface docs): character counting keeps the bytes of un-answered lines
at or below 127, the usable part of GRBL's 128-byte RX buffer, so the buffer never runs dry
and never overflows; one ``ok``/``error:N`` retires the oldest line. ``$`` lines and the
``send_and_wait`` mode wait for each answer. Real-time bytes (``?`` ``!`` ``~`` Ctrl-X) jump
the queue and are not counted.

Which lines have *run* (for the journal): an ``ok`` only means planned. A line is proven
executed when a later planner-synchronising line (dwell, spindle/servo change, program end)
is answered, when GRBL reports Idle with nothing outstanding, when the status report's
``Bf`` field shows its blocks have left the planner, or, after a stop, when the reported
machine position lies beyond it on the path.

Pen changes: GRBL answers an ``M0`` line only after it has run every line before it, held
(``Hold:0``) and been resumed with ``~``. So a hold while the M0 is the oldest unanswered line,
with the machine standing where the M0 expects it, is the programmed pause and not a feed hold
from a button or a fault: the streamer saves the journal (everything before the M0 has run),
asks ``on_pause`` (a person changes the pen), then sends ``~``. A job with an M0 and no
``on_pause`` is refused before the port is opened: it would hold forever.

Before the port opens every line is checked: ASCII only, at most 79 characters once comments
and spaces are gone (GRBL's line buffer), no real-time characters, and no ``$`` line that
changes GRBL's settings unless asked (``allow_settings``). After a failure is read nothing more
of the job is sent: every reply that has arrived is read before each line is written.

Positions. Status reports give MPos (or WPos = MPos - WCO; GRBL sends WCO only now and then).
The job's coordinates are G54 work coordinates, so a reported position is compared with the
job as MPos minus the machine's G54 offset and tool length offset, read with ``$#`` when
connecting (the job's own G92 offset is part of the interpreter's position).

Servo pens have no PWM from power-on or a soft reset until the first ``M3``: connecting lifts
the pen as soon as GRBL accepts G-code (after ``$X``, before homing), and a stop lifts it right
after the reset's banner.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import serial

from sketchplot.core.errors import SketchplotError
from sketchplot.core.grbl.codes import CRITICAL_ALARMS, describe_alarm, describe_error, is_sync
from sketchplot.core.grbl.interpreter import Block, Dwell, GCodeError, Interpreter, Motion, Pause, parse_line
from sketchplot.core.profiles import MachineProfile
from sketchplot.gcode.reader import check_work_area, read_gcode
from sketchplot.machines.journal import (
    Journal,
    JournalError,
    Partial,
    PlanLine,
    default_journal_path,
    file_digest,
    pen_up_lines,
    resume_plan,
    start_line_executed,
)
from sketchplot.machines.simulator import register

RX_BUFFER_BYTES = 127
PLANNER_BLOCKS = 15
STATUS_QUERY, FEED_HOLD, CYCLE_START, SOFT_RESET = b"?", b"!", b"~", b"\x18"
BANNER = re.compile(r"Grbl ([0-9]+\.[0-9]+[A-Za-z0-9]*) \['\$' for help\]")
POSITION_TOLERANCE_MM = 0.02  # GRBL reports 3 decimals of a step-quantised position
RESUME_HINT = "run again with --resume to continue"
WAKE_S = 2.5  # an Arduino reboots when the port opens; --timeout can only make this longer
GRBL_LINE_LIMIT = 79  # GRBL's 80-byte line buffer holds 79 characters
REALTIME_CHARACTERS = "?!~"
# $ lines a job may contain: homing, unlock, check mode and the reports. Everything else
# either writes GRBL's EEPROM (settings, $RST, $I=, $N0=) or moves without our checks ($J=).
SYSTEM_COMMANDS = frozenset({"$", "$$", "$#", "$G", "$I", "$N", "$H", "$X", "$C"})
SETTINGS_WRITE = re.compile(r"\$([0-9]+|RST|I|N[0-9]+)=.*")


class NotGrblError(SketchplotError):
    """The port cannot be opened or what answers is not GRBL 1.1."""

    exit_code = 2


class GrblJobError(SketchplotError):
    """GRBL refused a line (error:N) or raised an alarm mid-job."""

    exit_code = 3


class LinkError(SketchplotError):
    """The link failed mid-job: no answer in time, the port vanished, noise, a reset."""

    exit_code = 4


class JobInterrupted(SketchplotError):
    """Ctrl-C: the machine was stopped safely."""

    exit_code = 130


class PenChangeError(SketchplotError):
    """A job that pauses for a pen change, streamed without anyone to ask."""


class RefusedLineError(SketchplotError):
    """A line GRBL must not be sent: non-ASCII, too long, real-time characters, a settings
    write without ``allow_settings``, a jog."""


def check_sendable(blocks: list[Block], name: str, allow_settings: bool = False) -> None:
    """Refuse, before the port opens, any line that GRBL would mangle or that changes the
    machine beyond the job (the reader already refused non-ASCII)."""
    for block in blocks:
        where = f"{name}: line {block.line_no}: {_shown(block.raw)}"
        if len(block.text) > GRBL_LINE_LIMIT:
            raise RefusedLineError(f"{where} has {len(block.text)} characters; GRBL's line buffer holds {GRBL_LINE_LIMIT}")
        if not block.text.isprintable() or any(c in block.text for c in REALTIME_CHARACTERS):
            raise RefusedLineError(f"{where} holds a control or real-time character ({REALTIME_CHARACTERS}), which GRBL acts on at once")
        if block.is_system and block.text not in SYSTEM_COMMANDS:
            if SETTINGS_WRITE.fullmatch(block.text):
                if not allow_settings:
                    raise RefusedLineError(f"{where} changes GRBL's stored settings; refused (stream with --allow-settings to send it)")
            elif block.text.startswith("$J="):
                raise RefusedLineError(f"{where} is a jog, which moves the machine without the work-area check")
            else:
                raise RefusedLineError(f"{where} is not a GRBL 1.1 command a job may send")


def _shown(raw: str) -> str:
    text = raw.strip()
    return repr(text if len(text) <= 60 else text[:57] + "...")


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


def _is_pause(line: PlanLine) -> bool:
    block = parse_line(line.text)
    return block is not None and ("M", 0.0) in block.words


def refuse_unattended_pauses(plan: list[PlanLine], on_pause: Callable[[PauseInfo], None] | None, name: str) -> None:
    """Without ``on_pause`` nobody would change the pen and GRBL would hold at the M0 forever:
    say so before anything is sent."""
    pauses = [line for line in plan if _is_pause(line)]
    if pauses and on_pause is None:
        first = pauses[0]
        where = f"line {first.line_no}" if first.line_no else "a resume line"
        note = f" ({first.comment})" if first.comment else ""
        raise PenChangeError(
            f"{name}: the job pauses {len(pauses)} time(s) for a pen change (M0 at {where}{note}); "
            "stream it with a pen-change prompt (on_pause)"
        )


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


def open_port(port: str, baud: int, timeout: float = 0.02) -> serial.SerialBase:
    """A device path or any pyserial URL (``sim://`` included), locked against other programs."""
    register()
    try:
        return serial.serial_for_url(port, baudrate=baud, timeout=timeout, write_timeout=5, exclusive=True)
    except (serial.SerialException, ValueError, OSError) as exc:
        raise NotGrblError(f"cannot open {port}: {_port_problem(exc)}") from None


def _port_problem(exc: Exception) -> str:
    """What went wrong opening a port, in words a user can act on."""
    text = str(exc)
    errno = getattr(exc, "errno", None)
    if errno == 2 or "No such file" in text:
        return "no such port (is the plotter plugged in? try ls /dev/ttyUSB* /dev/ttyACM*)"
    if errno == 13 or "Permission denied" in text:
        return "permission denied (add yourself to the 'dialout' group, then log in again)"
    if errno in (11, 16) or "exclusively lock" in text or "busy" in text.lower():
        return "port busy (another program, e.g. a G-code sender or serial monitor, has it open)"
    return text


class Grbl:
    """Line I/O, real-time commands and status reports for one connected GRBL."""

    def __init__(self, port: serial.SerialBase, name: str = "", timeout: float = 5.0):
        self.port = port
        self.name = name or getattr(port, "port", "")
        self.timeout = timeout
        self.version = ""
        self._buffer = bytearray()
        self.last_rx = time.monotonic()
        self.wco: tuple[float, ...] | None = None
        self.work_offset: tuple[float, float, float] = (0.0, 0.0, 0.0)  # G54 + tool length, from $#
        self.planner_blocks = PLANNER_BLOCKS
        self.messages: list[str] = []

    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"{self.name}: port failed while writing: {exc}") from None

    def read_line(self, wait: float) -> str | None:
        """The next complete line from GRBL (without CR LF), or None after ``wait`` seconds."""
        deadline = time.monotonic() + wait
        while True:
            line = self._complete_line()
            if line is not None:
                return line
            chunk = self._read(lambda port: max(1, port.in_waiting))
            if not chunk and time.monotonic() >= deadline:
                return None

    def ready_line(self) -> str | None:
        """A line that has already arrived, or None at once: the check before every write."""
        line = self._complete_line()
        if line is None and self._read(lambda port: port.in_waiting):
            line = self._complete_line()
        return line

    def _complete_line(self) -> str | None:
        end = self._buffer.find(b"\n")
        if end < 0:
            return None
        raw = bytes(self._buffer[:end]).rstrip(b"\r")
        del self._buffer[: end + 1]
        self.last_rx = time.monotonic()
        return raw.decode("ascii", errors="replace")

    def _read(self, size: Callable[[serial.SerialBase], int]) -> bytes:
        try:
            count = size(self.port)
            chunk = self.port.read(count) if count else b""
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"{self.name}: port vanished: {exc}") from None
        self._buffer += chunk
        return chunk

    def status(self, line: str) -> Status:
        report = parse_status(line, self.wco)
        self.wco = report.wco
        return report

    def query_status(self, wait: float | None = None) -> Status:
        """Ask '?' and return the report (other lines are kept in ``messages``)."""
        self.write(STATUS_QUERY)
        deadline = time.monotonic() + (self.timeout if wait is None else wait)
        while time.monotonic() < deadline:
            line = self.read_line(0.05)
            if line and line.startswith("<"):
                return self.status(line)
            if line:
                self.messages.append(line)
        raise LinkError(f"{self.name}: GRBL sent no status report within {self.timeout if wait is None else wait:g} s")

    def wait_banner(self, wait: float, awake_gives_up: bool = False) -> str | None:
        """The version from GRBL's startup banner; with ``awake_gives_up``, None as soon as
        GRBL answers ``ok`` (it is awake and its banner went by before the port was opened)."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            line = self.read_line(0.05)
            if line is None:
                continue
            match = BANNER.search(line)
            if match:
                self.version = match.group(1)
                return match.group(1)
            self.messages.append(line)
            if awake_gives_up and line == "ok":
                return None
        return None

    def command(self, text: str, wait: float | None = None) -> list[str]:
        """Send one line and wait for its ok (send-and-wait); messages before it are returned."""
        self.write(text.encode() + b"\n")
        deadline = time.monotonic() + (self.timeout if wait is None else wait)
        replies = []
        while time.monotonic() < deadline:
            line = self.read_line(0.05)
            if line is None or line.startswith("<") or not line:
                continue
            if line == "ok":
                return replies
            if line.startswith("error:"):
                code = int(line[6:])
                raise GrblJobError(f"GRBL refused {text!r}: {describe_error(code)} ({line})")
            if line.startswith("ALARM:"):
                code = int(line[6:])
                raise GrblJobError(f"GRBL alarm after {text!r}: {describe_alarm(code)} ({line})")
            replies.append(line)
        raise LinkError(f"{self.name}: no answer to {text!r} within {self.timeout if wait is None else wait:g} s")

    def connect(self, profile: MachineProfile, wake_s: float = WAKE_S) -> None:
        """Wake GRBL, insist on its 1.1 banner, leave it idle and unlocked with a servo pen up
        (lifted before homing, so the pen is powered while the machine moves), and read its
        work offset and planner size."""
        wake_s = max(wake_s, self.timeout)  # --timeout covers the wait for the banner too
        self.write(b"\r\n\r\n")
        version = self.wait_banner(wake_s, awake_gives_up=True)  # an Arduino reboots on open
        if version is None:
            self.write(SOFT_RESET)
            version = self.wait_banner(wake_s)
        if version is None:
            heard = "; ".join(m for m in self.messages[-3:] if m.strip()) or "nothing"
            raise NotGrblError(f"{self.name}: no GRBL banner after wake-up and reset (heard: {heard!r}); is this a GRBL 1.1 board at {self.port.baudrate} baud?")
        if not version.startswith("1.1"):
            raise NotGrblError(f"{self.name}: Grbl {version} found; sketchplot speaks GRBL 1.1's protocol")
        patience = max(self.timeout, wake_s)
        while self.read_line(0.05) is not None:  # the wake-up newlines' oks, startup messages
            pass
        state = self.query_status(patience).state
        servo = profile.pen.method == "servo"
        if state not in ("Idle", "Check", "Alarm"):
            raise NotGrblError(f"{self.name}: GRBL is busy ({state}); wait for it to finish or reset it")
        if state == "Alarm" and (servo or not profile.homing):
            self.command("$X", patience)
        if servo and state != "Check":
            for text in pen_up_lines(profile):
                self.command(text, patience)
        if state == "Alarm" and profile.homing:
            self.command("$H", wait=120)
        if state != "Check":  # GRBL answers $# and $I only when idle or in alarm
            self._read_parameters(patience)

    def _read_parameters(self, patience: float) -> None:
        """The G54 and tool length offsets (``$#``), so reported positions can be compared with
        the job, and the planner size (``$I``'s OPT field), for the Bf evidence."""
        offsets = {}
        for reply in self.command("$#", patience):
            name, _, values = reply.strip("[]").partition(":")
            try:
                offsets[name] = [float(v) for v in values.split(":")[0].split(",")]
            except ValueError:
                continue
        g54 = offsets.get("G54", [0.0, 0.0, 0.0])[:3]
        tool = offsets.get("TLO", [0.0])[0]
        if len(g54) == 3:
            self.work_offset = (g54[0], g54[1], g54[2] + tool)
            g92 = offsets.get("G92", [0.0, 0.0, 0.0])
            self.wco = tuple(w + o for w, o in zip(self.work_offset, g92))
        for reply in self.command("$I", patience):
            if reply.startswith("[OPT:"):
                fields = reply[5:-1].split(",")
                if len(fields) >= 2 and fields[1].isdigit():
                    self.planner_blocks = int(fields[1])

    def close(self) -> None:
        try:
            self.port.close()
        except (serial.SerialException, OSError):
            pass


@dataclass
class _Sent:
    index: int
    line: PlanLine
    nbytes: int
    sync: bool
    motions: list[Motion]
    seconds: float  # length / feed + dwells: weights the progress bar
    end: tuple[float, float, float]  # job position once the line has run
    blocks: int  # planner blocks the line surely takes in GRBL (a move under a step may take none)
    restartable: bool  # one straight absolute move: a resume can start it part-way
    pause: PauseInfo | None = None


@dataclass(frozen=True)
class Progress:
    lines_done: int
    lines_total: int
    seconds_done: float  # estimated machine time of the answered lines
    seconds_total: float


@dataclass
class JobReport:
    lines: int
    seconds: float
    bytes_sent: int
    executed: set[int] = field(default_factory=set)


def _on_segment(point, start, end) -> bool:
    """Whether ``point`` lies on the segment (within the position tolerance), in 3-D."""
    seg = [e - s for s, e in zip(start, end)]
    rel = [p - s for s, p in zip(start, point)]
    length2 = sum(v * v for v in seg)
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, sum(a * b for a, b in zip(seg, rel)) / length2))
    closest = [s + t * v for s, v in zip(start, seg)]
    return math.dist(closest, point) <= POSITION_TOLERANCE_MM


def _sure_blocks(motions: list[Motion], step_mm: float) -> int:
    """Planner blocks GRBL certainly makes of these motions: a move whose every axis moves less
    than a step may round to no steps and plan nothing, and an arc's segment count may differ
    by one from ours."""
    sure = sum(max(abs(e - s) for s, e in zip(m.start, m.end)) >= step_mm for m in motions)
    return sure if len(motions) <= 1 else max(0, sure - 1)


class Streamer:
    """Runs a list of lines on a connected GRBL and keeps the journal of what has run."""

    def __init__(
        self,
        grbl: Grbl,
        profile: MachineProfile,
        *,
        send_and_wait: bool = False,
        journal: Journal | None = None,
        poll_s: float = 0.2,
        on_progress: Callable[[Progress], None] | None = None,
        on_pause: Callable[[PauseInfo], None] | None = None,
    ):
        self.grbl = grbl
        self.profile = profile
        self.send_and_wait = send_and_wait
        self.journal = journal
        self.poll_s = poll_s
        self.on_progress = on_progress
        self.on_pause = on_pause
        self._journal_saved = 0.0

    # ---- the job --------------------------------------------------------------------------

    def run(self, plan: list[PlanLine], check: bool = False) -> JobReport:
        """Stream ``plan``; on any failure stop the machine safely and raise. ``check`` runs it
        in GRBL's check mode, where ``$`` lines are left out: GRBL refuses homing and the
        EEPROM commands there (error:8) and a ``$C`` would leave check mode."""
        if check:
            plan = [line for line in plan if not line.text.startswith("$")]
        else:
            refuse_unattended_pauses(plan, self.on_pause, self.grbl.name)
        self._begin(plan, check)
        started = time.monotonic()
        bytes_sent = 0
        if check:
            self.grbl.command("$C")
        try:
            next_index = 0
            next_poll = time.monotonic()
            while next_index < len(plan) or self.inflight:
                while next_index < len(plan) and self._may_send(self.sent[next_index]):
                    if self._handle_arrived():
                        continue  # a reply came: look at the room again
                    item = self.sent[next_index]
                    self.inflight.append(item)  # first: a line cut short by Ctrl-C forces a reset
                    self.grbl.write(item.line.text.encode() + b"\n")
                    bytes_sent += item.nbytes
                    next_index += 1
                now = time.monotonic()
                due = now >= next_poll or self._machine_s_since_poll >= self.poll_s
                if due and not self.status_pending and not check:
                    self.grbl.write(STATUS_QUERY)
                    self.status_pending, next_poll = True, now + self.poll_s
                    self._machine_s_since_poll = 0.0
                line = self.grbl.read_line(0.01)
                if line is None:
                    if (self.inflight or self.status_pending) and now - self.grbl.last_rx > self.grbl.timeout:
                        raise LinkError(
                            f"{self.grbl.name}: GRBL stopped answering (nothing for {self.grbl.timeout:g} s) "
                            f"{self._where(self.inflight[0] if self.inflight else None)}"
                        )
                    continue
                self._handle(line)
            if not check:
                self._finish()
        except KeyboardInterrupt:
            self._interrupted()
        except (GrblJobError, LinkError) as exc:
            if check:
                self._leave_check()
                raise GrblJobError(f"check mode: {exc}") from None
            self._fail(exc)
        if check:
            self._leave_check()
        return JobReport(len(plan), time.monotonic() - started, bytes_sent, self._executed_lines())

    def _handle_arrived(self) -> bool:
        """Act on every reply that has already arrived (a failure raises), without waiting;
        True if there was one."""
        arrived = False
        while (line := self.grbl.ready_line()) is not None:
            arrived = True
            self._handle(line)
        return arrived

    def _handle(self, line: str) -> None:
        if line.startswith("<"):
            self.status_pending = False
            status = self.grbl.status(line)
            self._on_status(status)
            if self._at_programmed_pause(status):
                self._pause(self.inflight[0])
        else:
            self._on_line(line)

    def _begin(self, plan: list[PlanLine], check: bool) -> None:
        """Fresh bookkeeping for one run of ``plan``."""
        self.plan = plan
        self.sent = self._prepare(plan)
        self.total_seconds = sum(item.seconds for item in self.sent)
        self.inflight: deque[_Sent] = deque()
        self.acked: deque[_Sent] = deque()  # answered ok, not yet proven executed
        self.executed: set[int] = set()  # plan indices
        self.answered = 0
        self.check = check
        self.alarm: int | None = None
        self.status_pending = False
        self._machine_s_since_poll = 0.0  # estimated machine time answered since the last '?'
        self.refused = False  # after a refused or garbled answer, later oks prove nothing
        self.pauses_resumed: set[int] = set()  # plan indices of M0 lines already resumed
        self.partial: Partial | None = None  # the straight line the machine stopped inside

    def _leave_check(self) -> None:
        """``$C`` again leaves check mode, which GRBL answers with a soft reset; after an alarm
        only a reset gets through."""
        if self.alarm is not None:
            self.grbl.write(SOFT_RESET)
        else:
            self.grbl.write(b"$C\n")
        if self.grbl.wait_banner(max(5.0, self.grbl.timeout)) is None:
            raise LinkError(f"{self.grbl.name}: GRBL did not leave check mode")
        self._lift_after_reset(max(5.0, self.grbl.timeout))

    def _prepare(self, plan: list[PlanLine]) -> list[_Sent]:
        """Check every line before anything moves, and know its motions for the journal."""
        interpreter = Interpreter(self.profile)
        prepared = []
        pauses_total = sum(_is_pause(line) for line in plan)
        pauses_seen = 0
        for index, line in enumerate(plan):
            block = parse_line(line.text, line.line_no or 0)
            if block is None:
                raise GCodeError(line.line_no or 0, line.text, "empty line in the plan")
            spindle_before = (interpreter.spindle_on, interpreter.s_value)
            events = interpreter.execute(block)
            sync = is_sync(block, events, spindle_before, (interpreter.spindle_on, interpreter.s_value))
            nbytes = len(block.text) + 1
            motions = [e for e in events if isinstance(e, Motion)]
            seconds = sum(m.length / (m.feed / 60.0) for m in motions) + sum(
                e.seconds for e in events if isinstance(e, Dwell)
            )
            pause = None
            if any(isinstance(e, Pause) for e in events):
                pauses_seen += 1
                pause = PauseInfo(pauses_seen, pauses_total, line.line_no, line.comment)
            restartable = len(motions) == 1 and not interpreter.incremental and not any(
                letter == "G" and value in (2.0, 3.0) for letter, value in block.words
            )
            prepared.append(
                _Sent(index, PlanLine(block.text, line.line_no, line.comment), nbytes, sync, motions, seconds,
                      interpreter.position, _sure_blocks(motions, self.profile.step_mm), restartable, pause)
            )
        return prepared

    def _may_send(self, item: _Sent) -> bool:
        if not self.inflight:
            return True
        if self.send_and_wait or item.line.text.startswith("$") or self.inflight[-1].line.text.startswith("$"):
            return False
        return sum(s.nbytes for s in self.inflight) + item.nbytes <= RX_BUFFER_BYTES

    def _current(self) -> _Sent | None:
        return self.inflight[0] if self.inflight else (self.acked[-1] if self.acked else None)

    def _where(self, item: _Sent | None) -> str:
        if item is None:
            return "before the first line"
        where = f"line {item.line.line_no}" if item.line.line_no else f"resume line {item.index + 1}"
        return f"at {where} ({item.line.text!r})"

    def _on_line(self, line: str) -> None:
        if line == "ok":
            item = self._retire()
            if self.check:
                return
            self.acked.append(item)
            self._machine_s_since_poll += item.seconds
            if item.sync:
                self._mark_executed(len(self.acked))
            self._progress()
        elif line.startswith("error:") and line[6:].isdigit():
            item = self._retire()
            self.refused = True
            code = int(line[6:])
            raise GrblJobError(f"GRBL error:{code} {self._where(item)}: {describe_error(code)}")
        elif line.startswith("ALARM:") and line[6:].isdigit():
            code = int(line[6:])
            self.alarm = code
            if code == 3:  # we sent no reset: something else reset GRBL in motion
                raise LinkError(f"GRBL reset unexpectedly {self._where(self._current())} (ALARM:3: {describe_alarm(3)})")
            raise GrblJobError(f"GRBL ALARM:{code} {self._where(self._current())}: {describe_alarm(code)}")
        elif BANNER.search(line):
            raise LinkError(f"GRBL reset unexpectedly {self._where(self._current())}; lines in its buffer were lost")
        elif line.startswith("[") or not line or (line.startswith("$") and self._answering_a_query()):
            self.grbl.messages.append(line)
        else:
            self.refused = True
            raise LinkError(f"unexpected answer {line!r} from {self.grbl.name} {self._where(self._current())} (line noise or wrong baud rate?)")

    def _answering_a_query(self) -> bool:
        """A ``$`` line is sent alone, so ``$10=1`` or ``$N0=`` lines are its report."""
        return bool(self.inflight) and self.inflight[0].line.text.startswith("$")

    def _retire(self) -> _Sent:
        if not self.inflight:
            raise LinkError(f"{self.grbl.name}: an answer came for a line that was never sent (another program on the port?)")
        self.answered += 1
        return self.inflight.popleft()

    # ---- what has run -----------------------------------------------------------------------

    def _job_position(self, status: Status) -> tuple[float, ...] | None:
        """Where the machine is in the job's coordinates: MPos minus the G54 and tool length
        offsets (WPos + WCO when GRBL reports WPos), so work offsets do not fool the tracker."""
        if status.mpos is None:
            return None
        return tuple(m - o for m, o in zip(status.mpos, self.grbl.work_offset))

    def _on_status(self, status: Status) -> None:
        if status.state == "Idle" and not self.inflight:
            self._mark_executed(len(self.acked))
            return
        if status.state not in ("Run", "Hold", "Idle"):
            return
        if status.planner_free is not None and status.planner_free <= self.grbl.planner_blocks:
            pending = self.grbl.planner_blocks - status.planner_free
            count, blocks = len(self.acked), 0
            while count > 0 and blocks < pending:
                count -= 1
                blocks += self.acked[count].blocks
            if blocks >= pending:  # the pending blocks surely belong to the newer lines
                self._mark_executed(count)
        position = self._job_position(status)
        if position is not None:
            self._locate(position)

    def _at_programmed_pause(self, status: Status) -> bool:
        """GRBL holds at our M0: it is the oldest unanswered line (so every earlier line was
        answered and, M0 synchronising, has run), the planner is empty where reported, and the
        machine stands where the M0 expects it. A feed hold anywhere else fails one of these."""
        if status.state != "Hold" or status.substate != 0 or not self.inflight:
            return False
        item = self.inflight[0]
        if item.pause is None or item.index in self.pauses_resumed:
            return False
        if status.planner_free is not None and status.planner_free < self.grbl.planner_blocks:
            return False
        position = self._job_position(status)
        return position is None or math.dist(position, item.end) <= POSITION_TOLERANCE_MM

    def _pause(self, item: _Sent) -> None:
        """Journal what has run, let a person change the pen, resume with cycle start."""
        self._mark_executed(len(self.acked))
        if self.journal is not None:
            self._save_journal()
        self.on_pause(item.pause)
        self.pauses_resumed.add(item.index)
        self.grbl.write(CYCLE_START)
        self.grbl.last_rx = time.monotonic()  # the person's time is not GRBL going quiet

    def _mark_executed(self, count: int) -> None:
        """The oldest ``count`` acknowledged lines have run."""
        for _ in range(count):
            self.executed.add(self.acked.popleft().index)
        if self.journal is not None and time.monotonic() - self._journal_saved > 0.5:
            self._save_journal()

    def _locate(self, position: tuple[float, ...]) -> None:
        """Lines whose whole path lies before ``position`` have run."""
        candidates = list(self.acked) + list(self.inflight)
        for count, item in enumerate(candidates):
            for motion in item.motions:
                if _on_segment(position, motion.start, motion.end) and math.dist(position, motion.end) > POSITION_TOLERANCE_MM:
                    self._mark_executed(min(count, len(self.acked)))
                    return
        last = next((m for item in reversed(candidates) for m in reversed(item.motions)), None)
        if last is not None and math.dist(position, last.end) <= POSITION_TOLERANCE_MM:
            self._mark_executed(len(self.acked))

    def _stopped_inside(self, position: tuple[float, ...]) -> Partial | None:
        """The oldest line not known to have run, if the machine stopped part-way along it."""
        item = self.acked[0] if self.acked else None
        if item is None or item.line.line_no is None or not item.restartable:
            return None
        motion = item.motions[0]
        inside = _on_segment(position, motion.start, motion.end) and min(
            math.dist(position, motion.start), math.dist(position, motion.end)
        ) > POSITION_TOLERANCE_MM
        return Partial(item.line.line_no, tuple(position)) if inside else None

    def _executed_lines(self) -> set[int]:
        return {self.plan[i].line_no for i in self.executed if self.plan[i].line_no is not None}

    def _save_journal(self) -> None:
        self.journal.executed |= self._executed_lines()
        if self.partial is not None:
            self.journal.partial = self.partial
        self.journal.save()
        self._journal_saved = time.monotonic()

    def _progress(self) -> None:
        if self.on_progress is not None:
            done = sum(item.seconds for item in self.sent[: self.answered])
            self.on_progress(Progress(self.answered, len(self.plan), done, self.total_seconds))

    def _finish(self) -> None:
        """Wait until GRBL has run everything (Idle), so the journal can say the job is done."""
        deadline_quiet = self.grbl.timeout
        while True:
            status = self.grbl.query_status()
            self._on_status(status)
            if status.state == "Idle":
                break
            if status.state == "Alarm":
                raise GrblJobError(f"GRBL is in alarm at the end of the job {self._where(self._current())}")
            if time.monotonic() - self.grbl.last_rx > deadline_quiet:
                raise LinkError(f"{self.grbl.name}: GRBL stopped answering at the end of the job")
            line = self.grbl.read_line(min(self.poll_s, 0.05))  # waiting lets the machine run
            if line and not line.startswith("<"):
                self._on_line(line)
        if self.journal is not None:
            self.journal.complete = True
            self.journal.partial = None
            self._save_journal()

    # ---- stopping safely --------------------------------------------------------------------

    def _fail(self, error: SketchplotError) -> None:
        """Stop sending, hold, reset if needed, unlock, lift the pen; save the journal; raise."""
        note = self._stop_safely()
        raise type(error)(f"{error}; {note}; {RESUME_HINT}") from None

    def _interrupted(self) -> None:
        """Ctrl-C: stop safely, then name the line the machine was on (the oldest line not
        known to have run), not the oldest unanswered one, which may be 15 lines ahead."""
        unanswered = self._current()
        note = self._stop_safely()
        on = self.acked[0] if self.acked else unanswered
        raise JobInterrupted(f"interrupted {self._where(on)}; the machine was stopped; {note}; {RESUME_HINT}") from None

    def _stop_safely(self) -> str:
        """Stop the machine and save the journal; how it went, for the message."""
        try:
            self._stop_machine()
            note = "machine stopped, pen up"
        except LinkError:
            note = "GRBL no longer answers: the pen may still be down"
        except (GrblJobError, KeyboardInterrupt) as exc:
            note = f"could not lift the pen ({exc})"
        if self.journal is not None:
            self._save_journal()
        return note

    def _stop_machine(self) -> None:
        grbl = self.grbl
        patience = max(10.0, 3 * grbl.timeout)  # a slow GRBL still deserves its pen lifted
        grbl.write(FEED_HOLD)
        deadline = time.monotonic() + patience
        status = None
        critical = self.alarm in CRITICAL_ALARMS
        reset_seen = False
        while time.monotonic() < deadline:
            grbl.write(STATUS_QUERY)
            line_deadline = time.monotonic() + 0.1
            while time.monotonic() < line_deadline:
                line = grbl.read_line(0.02)
                if line is None:
                    continue
                if line.startswith("<"):
                    status = grbl.status(line)
                elif line == "ok" and self.inflight:
                    item = self._retire()
                    if not self.refused:
                        self.acked.append(item)
                elif line.startswith("error:") and self.inflight:
                    self._retire()
                    self.refused = True
                elif line.startswith("ALARM:"):
                    critical = critical or int(line[6:]) in CRITICAL_ALARMS
                elif BANNER.search(line):
                    reset_seen = True
                    self.inflight.clear()
            if critical or reset_seen:
                break
            if status and (status.state == "Alarm" or (status.state == "Hold" and status.substate == 0)):
                break
            if status and status.state == "Idle" and not self.inflight:
                break
            status = None
        position = self._job_position(status) if status is not None else None
        if position is not None:
            if status.state == "Idle" and not self.inflight:
                self._mark_executed(len(self.acked))
            else:
                self._locate(position)
                self.partial = self._stopped_inside(position)
        needs_reset = critical or self.inflight or (status is not None and status.state == "Hold")
        if status is None and not reset_seen and not critical:
            raise LinkError("GRBL did not report a stopped state")
        if needs_reset and not reset_seen:
            grbl.write(SOFT_RESET)
            if grbl.wait_banner(patience) is None:
                raise LinkError("GRBL did not come back after a soft reset")
            self.inflight.clear()
        self._lift_after_reset(patience)

    def _lift_after_reset(self, patience: float) -> None:
        """Lift the pen the moment GRBL takes G-code again: a reset switched a servo's PWM off.
        Locked after an alarm, GRBL refuses (error:9) until ``$X``."""
        try:
            self._lift(patience)
        except GrblJobError:
            while self.grbl.read_line(0.05) is not None:
                pass
            self.grbl.command("$X", patience)
            self._lift(patience)

    def _lift(self, patience: float) -> None:
        for text in pen_up_lines(self.profile):
            self.grbl.command(text, patience)


def stream_file(
    gcode_path,
    port: str,
    profile: MachineProfile,
    *,
    baud: int | None = None,
    send_and_wait: bool = False,
    check: bool = False,
    resume: bool = False,
    start_line: int | None = None,
    journal_path=None,
    timeout: float = 5.0,
    allow_settings: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    on_pause: Callable[[PauseInfo], None] | None = None,
) -> JobReport:
    """The ``stream`` command: plan (whole file or the rest of it), connect, check, stream.

    Every line is checked before the port opens (``check_sendable``, the work area);
    ``allow_settings`` lets ``$`` lines that change GRBL's settings through.
    ``on_pause(info)`` is called while the machine holds at each M0 (a pen change) and returns
    when the job may go on; raising KeyboardInterrupt there stops the job safely. A file with
    an M0 and no ``on_pause`` is refused before the port is opened (PenChangeError)."""
    blocks = read_gcode(Path(gcode_path))
    check_sendable(blocks, str(gcode_path), allow_settings)
    check_work_area(blocks, profile)
    journal_file = Path(journal_path) if journal_path else default_journal_path(gcode_path)
    executed: set[int] = set()
    partial = None
    if resume:
        previous = Journal.load(journal_file, gcode_path)
        if previous.complete:
            raise JournalError(f"{journal_file} says {gcode_path} was drawn completely; nothing to resume")
        executed, partial = previous.executed, previous.partial
        if partial is not None and not profile.contains(*partial.position[:2]):
            raise JournalError(f"{journal_file}: the stop position {partial.position[:2]} lies outside the work area")
    elif start_line is not None:
        executed = start_line_executed(blocks, start_line)
    plan = resume_plan(blocks, executed, profile, partial)
    refuse_unattended_pauses(plan, on_pause, str(gcode_path))
    journal = Journal(journal_file, str(gcode_path), file_digest(gcode_path), set(executed), partial=partial)
    grbl = Grbl(open_port(port, baud or profile.baud), port, timeout)
    try:
        grbl.connect(profile)
        if any(grbl.work_offset):  # the job's coordinates are shifted on this machine
            check_work_area(blocks, profile, grbl.work_offset)
        if check:
            Streamer(grbl, profile).run(plan, check=True)
        journal.save()
        streamer = Streamer(
            grbl, profile, send_and_wait=send_and_wait, journal=journal, on_progress=on_progress, on_pause=on_pause
        )
        report = streamer.run(plan)
    except BaseException:
        with contextlib.suppress(SketchplotError):  # the job's own error says more
            grbl.close()
        raise
    grbl.close()
    return report
