"""What can stop a machine job, each with its exit code; a job stopped where the journal can
continue it is ``resumable``."""

from __future__ import annotations

from sketchplot.core.errors import SketchplotError


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
