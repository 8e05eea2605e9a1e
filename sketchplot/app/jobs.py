"""Run a G-code file on a plotter (or the simulator) and say how to resume it when it stops.

The faces pass callbacks for progress and pen-change pauses; an error that the journal can
resume from leaves here with its ``resume_command`` set, so no one rewrites message text.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

from sketchplot.core.errors import SketchplotError
from sketchplot.core.profiles import MachineProfile
from sketchplot.machines.job import stream_file
from sketchplot.machines.journal import PauseInfo
from sketchplot.machines.simulator import is_simulator
from sketchplot.machines.streamer import JobReport, Progress

__all__ = ["JobReport", "PauseInfo", "Progress", "is_simulator", "run_job"]


def resume_command(gcode_path: str, port: str, profile: MachineProfile) -> str:
    """The `stream --resume` command line that finishes a stopped job."""
    return (
        f"sketchplot stream {shlex.quote(str(gcode_path))} --port {shlex.quote(port)} "
        f"--machine {shlex.quote(profile.name)} --resume"
    )


def run_job(
    gcode_path: str | Path,
    port: str,
    profile: MachineProfile,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    on_pause: Callable[[PauseInfo], None] | None = None,
    name_resume: bool = True,
    **options,
) -> JobReport:
    """Stream a G-code file to the GRBL machine on ``port`` (``stream_file``'s ``options``).

    A failure the journal can resume from gets ``resume_command`` (unless ``name_resume`` is
    False: the `stream` command itself is rerun with --resume)."""
    try:
        return stream_file(gcode_path, port, profile, on_progress=on_progress, on_pause=on_pause, **options)
    except SketchplotError as exc:
        if exc.resumable and name_resume:
            exc.resume_command = resume_command(str(gcode_path), port, profile)
        raise
