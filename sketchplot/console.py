"""The terminal side of a machine job: a progress bar that follows machine time, and the
prompt for the next pen at a pen change."""

from __future__ import annotations

import click

from sketchplot.app.jobs import PauseInfo, Progress, is_simulator
from sketchplot.core.profiles import MachineProfile
from sketchplot.gcode.estimate import estimate_gcode, format_duration


class JobConsole:
    """Progress and pause callbacks for ``app.jobs.run_job``; use it as a context manager so the
    bar is closed however the job ends."""

    def __init__(self, gcode_path: str, port: str, profile: MachineProfile, quiet: bool):
        self.gcode_path, self.port, self.profile, self.quiet = gcode_path, port, profile, quiet
        self.bar = None
        self.shown_ms = 0

    def __enter__(self) -> JobConsole:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close_bar()

    @property
    def callbacks(self) -> dict:
        return {"on_progress": self.on_progress, "on_pause": self.on_pause}

    def on_progress(self, progress: Progress) -> None:
        """The bar's length is the estimated machine time, so percentage and ETA follow time, not lines."""
        if self.quiet:
            return
        if self.bar is None:
            seconds = estimate_gcode(self.gcode_path, self.profile).seconds
            self.bar = click.progressbar(
                length=max(1, round(progress.seconds_total * 1000)),
                label=f"{self.gcode_path} (estimated {format_duration(seconds)})",
                show_eta=True,
                show_percent=True,
                item_show_func=lambda done: f"line {done}/{progress.lines_total}" if done is not None else "",
            )
            self.bar.__enter__()
        done_ms = round(progress.seconds_done * 1000)
        self.bar.update(done_ms - self.shown_ms, progress.lines_done)
        self.shown_ms = done_ms

    def close_bar(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar, self.shown_ms = None, 0

    def on_pause(self, pause: PauseInfo) -> None:
        """The machine holds at a pen change (M0): close the bar, ask, and let the next progress
        update draw a fresh bar below the prompt; the simulator goes on by itself."""
        self.close_bar()
        pen = f"layer {pause.next_layer}" if pause.next_layer else f"pause {pause.number} of {pause.total}"
        if is_simulator(self.port):
            if not self.quiet:
                click.echo(f"pen change ({pen}): simulator continues")
            return
        try:
            click.prompt(f"Put in the pen for {pen}, then press Enter", default="", show_default=False)
        except click.Abort:  # Ctrl-C or end of input at the prompt: stop the job safely
            raise KeyboardInterrupt from None
