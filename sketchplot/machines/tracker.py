"""Which lines of a job have run: GRBL's ``ok`` only means planned, so a line is proven executed
when a later planner-synchronising line is answered, when GRBL is Idle with nothing
outstanding, when the status report's ``Bf`` field shows its blocks have left the planner, or
when the reported position lies beyond it on the path. The streamer feeds it answers and status
reports; the journal records what it proves."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sketchplot.core.grbl.codes import is_sync
from sketchplot.core.grbl.interpreter import Dwell, GCodeError, Interpreter, Motion, Pause, parse_line
from sketchplot.core.grbl.protocol import Status
from sketchplot.core.profiles import MachineProfile
from sketchplot.machines.journal import Partial, PauseInfo, PlanLine

POSITION_TOLERANCE_MM = 0.02  # GRBL reports 3 decimals of a step-quantised position


@dataclass
class SentLine:
    """One plan line as sent: what it does to the machine and what proves it ran."""

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


def on_segment(point, start, end) -> bool:
    """Whether ``point`` lies on the segment (within the position tolerance), in 3-D."""
    seg = [e - s for s, e in zip(start, end)]
    rel = [p - s for s, p in zip(start, point)]
    length2 = sum(v * v for v in seg)
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, sum(a * b for a, b in zip(seg, rel)) / length2))
    closest = [s + t * v for s, v in zip(start, seg)]
    return math.dist(closest, point) <= POSITION_TOLERANCE_MM


def sure_blocks(motions: list[Motion], step_mm: float) -> int:
    """Planner blocks GRBL certainly makes of these motions: a move whose every axis moves less
    than a step may round to no steps and plan nothing, and an arc's segment count may differ
    by one from ours."""
    sure = sum(max(abs(e - s) for s, e in zip(m.start, m.end)) >= step_mm for m in motions)
    return sure if len(motions) <= 1 else max(0, sure - 1)


def prepare_lines(plan: Sequence[PlanLine], profile: MachineProfile) -> list[SentLine]:
    """Every plan line parsed and run through the interpreter before anything moves: its motions,
    time, end point and planner blocks, which the tracker weighs evidence against."""
    interpreter = Interpreter(profile)
    prepared = []
    pauses_total = sum(line.is_pause for line in plan)
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
        restartable = (
            len(motions) == 1
            and not interpreter.incremental
            and not any(letter == "G" and value in (2.0, 3.0) for letter, value in block.words)
        )
        prepared.append(
            SentLine(
                index,
                PlanLine(block.text, line.line_no, line.comment),
                nbytes,
                sync,
                motions,
                seconds,
                interpreter.position,
                sure_blocks(motions, profile.step_mm),
                restartable,
                pause,
            )
        )
    return prepared


def job_position(status: Status, work_offset: Sequence[float]) -> tuple[float, ...] | None:
    """Where the machine is in the job's coordinates: MPos minus the G54 and tool length offsets
    (WPos + WCO when GRBL reports WPos), so work offsets do not fool the tracker."""
    if status.mpos is None:
        return None
    return tuple(m - o for m, o in zip(status.mpos, work_offset))


class ExecutionTracker:
    """The answered lines not yet proven executed (``acked``, oldest first) and the plan indices
    proven executed (``executed``). ``on_executed`` is called whenever lines are proven."""

    def __init__(self, planner_blocks: int, on_executed: Callable[[], None] | None = None):
        self.planner_blocks = planner_blocks
        self.on_executed = on_executed
        self.acked: deque[SentLine] = deque()
        self.executed: set[int] = set()

    def acknowledge(self, item: SentLine, proves: bool = True) -> None:
        """GRBL answered ``ok`` for ``item``; a synchronising line proves every line before it ran
        (``proves`` False: an answer read while the machine is being stopped proves nothing)."""
        self.acked.append(item)
        if item.sync and proves:
            self.mark(len(self.acked))

    def mark(self, count: int) -> None:
        """The oldest ``count`` acknowledged lines have run."""
        for _ in range(count):
            self.executed.add(self.acked.popleft().index)
        if self.on_executed is not None:
            self.on_executed()

    def mark_all(self) -> None:
        self.mark(len(self.acked))

    @property
    def oldest_unproven(self) -> SentLine | None:
        return self.acked[0] if self.acked else None

    @property
    def newest_unproven(self) -> SentLine | None:
        return self.acked[-1] if self.acked else None

    def on_status(
        self, status: Status, work_offset: Sequence[float] = (0.0, 0.0, 0.0), inflight: Sequence[SentLine] = ()
    ) -> None:
        """What a status report proves: Idle with nothing outstanding (``inflight``: the lines
        sent and not answered), free planner blocks (``Bf``), and the position along the path."""
        position = job_position(status, work_offset)
        if status.state == "Idle" and not inflight:
            self.mark_all()
            return
        if status.state not in ("Run", "Hold", "Idle"):
            return
        if status.planner_free is not None and status.planner_free <= self.planner_blocks:
            pending = self.planner_blocks - status.planner_free
            count, blocks = len(self.acked), 0
            while count > 0 and blocks < pending:
                count -= 1
                blocks += self.acked[count].blocks
            if blocks >= pending:  # the pending blocks surely belong to the newer lines
                self.mark(count)
        if position is not None:
            self.locate(position, inflight)

    def locate(self, position: tuple[float, ...], inflight: Sequence[SentLine] = ()) -> None:
        """Lines whose whole path lies before ``position`` have run."""
        candidates = list(self.acked) + list(inflight)
        for count, item in enumerate(candidates):
            for motion in item.motions:
                if (
                    on_segment(position, motion.start, motion.end)
                    and math.dist(position, motion.end) > POSITION_TOLERANCE_MM
                ):
                    self.mark(min(count, len(self.acked)))
                    return
        last = next((m for item in reversed(candidates) for m in reversed(item.motions)), None)
        if last is not None and math.dist(position, last.end) <= POSITION_TOLERANCE_MM:
            self.mark_all()

    def stopped_inside(self, position: tuple[float, ...]) -> Partial | None:
        """The oldest line not known to have run, if the machine stopped part-way along it."""
        item = self.oldest_unproven
        if item is None or item.line.line_no is None or not item.restartable:
            return None
        motion = item.motions[0]
        inside = (
            on_segment(position, motion.start, motion.end)
            and min(math.dist(position, motion.start), math.dist(position, motion.end)) > POSITION_TOLERANCE_MM
        )
        return Partial(item.line.line_no, tuple(position)) if inside else None

    def executed_lines(self, plan: Sequence[PlanLine]) -> set[int]:
        """File line numbers of the executed plan lines (restore lines have none)."""
        return {plan[i].line_no for i in self.executed if plan[i].line_no is not None}
