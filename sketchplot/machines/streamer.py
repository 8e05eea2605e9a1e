"""Stream G-code to GRBL 1.1 over pyserial, fast, and stop safely when anything goes wrong.

Protocol (GRBL 1.1 interface docs): character counting keeps the bytes of un-answered lines
at or below 127, the usable part of GRBL's 128-byte RX buffer, so the buffer never runs dry
and never overflows; one ``ok``/``error:N`` retires the oldest line. ``$`` lines and the
``send_and_wait`` mode wait for each answer. Real-time bytes (``?`` ``!`` ``~`` Ctrl-X) jump
the queue and are not counted.

Which lines have *run* (for the journal) is the ``tracker``'s part: an ``ok`` only means planned.

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

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sketchplot.core.errors import SketchplotError
from sketchplot.core.grbl.codes import CRITICAL_ALARMS, describe_alarm, describe_error
from sketchplot.core.grbl.interpreter import Block
from sketchplot.core.grbl.protocol import (
    BANNER,
    CYCLE_START,
    FEED_HOLD,
    GRBL_LINE_LIMIT,
    REALTIME_CHARACTERS,
    RX_BUFFER_BYTES,
    SETTINGS_WRITE,
    SOFT_RESET,
    STATUS_QUERY,
    SYSTEM_COMMANDS,
    Status,
)
from sketchplot.core.profiles import MachineProfile
from sketchplot.gcode.restore import pen_up_lines
from sketchplot.machines.errors import GrblJobError, JobInterrupted, LinkError, PenChangeError, RefusedLineError
from sketchplot.machines.journal import Journal, Partial, PauseInfo, PlanLine
from sketchplot.machines.link import Grbl
from sketchplot.machines.tracker import POSITION_TOLERANCE_MM, ExecutionTracker, SentLine, job_position, prepare_lines


def check_sendable(blocks: list[Block], name: str, allow_settings: bool = False) -> None:
    """Refuse, before the port opens, any line that GRBL would mangle or that changes the
    machine beyond the job (the reader already refused non-ASCII)."""
    for block in blocks:
        where = f"{name}: line {block.line_no}: {_shown(block.raw)}"
        if len(block.text) > GRBL_LINE_LIMIT:
            raise RefusedLineError(
                f"{where} has {len(block.text)} characters; GRBL's line buffer holds {GRBL_LINE_LIMIT}"
            )
        if not block.text.isprintable() or any(c in block.text for c in REALTIME_CHARACTERS):
            raise RefusedLineError(
                f"{where} holds a control or real-time character ({REALTIME_CHARACTERS}), which GRBL acts on at once"
            )
        if block.is_system and block.text not in SYSTEM_COMMANDS:
            if SETTINGS_WRITE.fullmatch(block.text):
                if not allow_settings:
                    raise RefusedLineError(
                        f"{where} changes GRBL's stored settings; refused (stream with --allow-settings to send it)"
                    )
            elif block.text.startswith("$J="):
                raise RefusedLineError(f"{where} is a jog, which moves the machine without the work-area check")
            else:
                raise RefusedLineError(f"{where} is not a GRBL 1.1 command a job may send")


def _shown(raw: str) -> str:
    text = raw.strip()
    return repr(text if len(text) <= 60 else text[:57] + "...")


def refuse_unattended_pauses(plan: list[PlanLine], on_pause: Callable[[PauseInfo], None] | None, name: str) -> None:
    """Without ``on_pause`` nobody would change the pen and GRBL would hold at the M0 forever:
    say so before anything is sent."""
    pauses = [line for line in plan if line.is_pause]
    if pauses and on_pause is None:
        first = pauses[0]
        where = f"line {first.line_no}" if first.line_no else "a resume line"
        note = f" ({first.comment})" if first.comment else ""
        raise PenChangeError(
            f"{name}: the job pauses {len(pauses)} time(s) for a pen change (M0 at {where}{note}); "
            "stream it with a pen-change prompt (on_pause)"
        )


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
        self.sent = prepare_lines(plan, self.profile)
        self.total_seconds = sum(item.seconds for item in self.sent)
        self.inflight: deque[SentLine] = deque()
        self.tracker = ExecutionTracker(self.grbl.planner_blocks, self._journal_progress)
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

    def _may_send(self, item: SentLine) -> bool:
        if not self.inflight:
            return True
        if self.send_and_wait or item.line.text.startswith("$") or self.inflight[-1].line.text.startswith("$"):
            return False
        return sum(s.nbytes for s in self.inflight) + item.nbytes <= RX_BUFFER_BYTES

    def _current(self) -> SentLine | None:
        return self.inflight[0] if self.inflight else self.tracker.newest_unproven

    def _where(self, item: SentLine | None) -> str:
        if item is None:
            return "before the first line"
        where = f"line {item.line.line_no}" if item.line.line_no else f"resume line {item.index + 1}"
        return f"at {where} ({item.line.text!r})"

    def _on_line(self, line: str) -> None:
        if line == "ok":
            item = self._retire()
            if self.check:
                return
            self.tracker.acknowledge(item)
            self._machine_s_since_poll += item.seconds
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
                raise LinkError(
                    f"GRBL reset unexpectedly {self._where(self._current())} (ALARM:3: {describe_alarm(3)})"
                )
            raise GrblJobError(f"GRBL ALARM:{code} {self._where(self._current())}: {describe_alarm(code)}")
        elif BANNER.search(line):
            raise LinkError(f"GRBL reset unexpectedly {self._where(self._current())}; lines in its buffer were lost")
        elif line.startswith("[") or not line or (line.startswith("$") and self._answering_a_query()):
            self.grbl.messages.append(line)
        else:
            self.refused = True
            raise LinkError(
                f"unexpected answer {line!r} from {self.grbl.name} {self._where(self._current())} (line noise or wrong baud rate?)"
            )

    def _answering_a_query(self) -> bool:
        """A ``$`` line is sent alone, so ``$10=1`` or ``$N0=`` lines are its report."""
        return bool(self.inflight) and self.inflight[0].line.text.startswith("$")

    def _retire(self) -> SentLine:
        if not self.inflight:
            raise LinkError(
                f"{self.grbl.name}: an answer came for a line that was never sent (another program on the port?)"
            )
        self.answered += 1
        return self.inflight.popleft()

    # ---- what has run -----------------------------------------------------------------------

    def _on_status(self, status: Status) -> None:
        self.tracker.on_status(status, self.grbl.work_offset, self.inflight)

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
        position = job_position(status, self.grbl.work_offset)
        return position is None or math.dist(position, item.end) <= POSITION_TOLERANCE_MM

    def _pause(self, item: SentLine) -> None:
        """Journal what has run, let a person change the pen, resume with cycle start."""
        self.tracker.mark_all()
        if self.journal is not None:
            self._save_journal()
        self.on_pause(item.pause)
        self.pauses_resumed.add(item.index)
        self.grbl.write(CYCLE_START)
        self.grbl.last_rx = time.monotonic()  # the person's time is not GRBL going quiet

    def _journal_progress(self) -> None:
        """Lines were proven executed: journal them, at most twice a second."""
        if self.journal is not None and time.monotonic() - self._journal_saved > 0.5:
            self._save_journal()

    def _executed_lines(self) -> set[int]:
        return self.tracker.executed_lines(self.plan)

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
        stopped = type(error)(f"{error}; {note}")
        stopped.resumable = True
        raise stopped from None

    def _interrupted(self) -> None:
        """Ctrl-C: stop safely, then name the line the machine was on (the oldest line not
        known to have run), not the oldest unanswered one, which may be 15 lines ahead."""
        unanswered = self._current()
        note = self._stop_safely()
        on = self.tracker.oldest_unproven or unanswered
        stopped = JobInterrupted(f"interrupted {self._where(on)}; the machine was stopped; {note}")
        stopped.resumable = True
        raise stopped from None

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
                        self.tracker.acknowledge(item, proves=False)
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
        position = job_position(status, self.grbl.work_offset) if status is not None else None
        if position is not None:
            if status.state == "Idle" and not self.inflight:
                self.tracker.mark_all()
            else:
                self.tracker.locate(position, self.inflight)
                self.partial = self.tracker.stopped_inside(position)
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
