"""One job on one machine: the plan (the whole file, or the rest of it after a stop), the
checks before the port opens, the connection, an optional check-mode pass, and the run."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from sketchplot.core.errors import SketchplotError
from sketchplot.core.profiles import MachineProfile
from sketchplot.gcode.reader import check_work_area, read_gcode
from sketchplot.machines.journal import (
    Journal,
    JournalError,
    default_journal_path,
    file_digest,
    resume_plan,
    start_line_executed,
)
from sketchplot.machines.link import Grbl, open_port
from sketchplot.machines.streamer import (
    JobReport,
    PauseInfo,
    Progress,
    Streamer,
    check_sendable,
    refuse_unattended_pauses,
)


def stream_file(
    gcode_path: str | os.PathLike,
    port: str,
    profile: MachineProfile,
    *,
    baud: int | None = None,
    send_and_wait: bool = False,
    check: bool = False,
    resume: bool = False,
    start_line: int | None = None,
    journal_path: str | os.PathLike | None = None,
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
