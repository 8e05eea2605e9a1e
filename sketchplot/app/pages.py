"""A page from sketches: layout, optimisation, G-code and its estimate, and the files it writes.

Every drawing command (draw, plot, reconstruct, interpolate, analogy, complete) and the benches
build their page here, so the same sketches give the same page, the same checks and the same
outputs whichever command made them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import vpype as vp

from sketchplot.core.atomic import atomic_write_text
from sketchplot.core.errors import SketchplotError
from sketchplot.core.formats import Drawing, as_stroke3, from_origin, load_drawings, write_sketches
from sketchplot.core.grbl.interpreter import Block
from sketchplot.core.paths import new_job_path
from sketchplot.core.profiles import MachineProfile, load_profile
from sketchplot.core.settings import UserDefaults, load_defaults
from sketchplot.gcode.estimate import PlotEstimate, estimate_blocks, estimate_gcode
from sketchplot.gcode.reader import OutOfWorkAreaError, check_work_area, read_gcode
from sketchplot.gcode.writer import write_gcode
from sketchplot.plotter.layout import parse_grid
from sketchplot.plotter.optimize import OptimizeOptions
from sketchplot.plotter.pipeline import plot_page
from sketchplot.plotter.preview import write_preview


def machine_profile(name: str | None = None, defaults: UserDefaults | None = None) -> MachineProfile:
    """The machine profile: ``name``, else $SKETCHPLOT_MACHINE, the config file, a4-servo."""
    return load_profile(name or (defaults or load_defaults()).machine)


@dataclass(frozen=True)
class PageSettings:
    """How a page is laid out and for which machine, user defaults already applied."""

    profile: MachineProfile
    paper: str
    landscape: bool
    margin_mm: float = 10.0
    grid: tuple[int, int] | None = None
    gutter_mm: float = 5.0
    optimize: OptimizeOptions = field(default_factory=OptimizeOptions)

    @classmethod
    def resolve(
        cls,
        *,
        machine: str | None = None,
        paper: str | None = None,
        landscape: bool | None = None,
        margin: float | None = None,
        grid: str | None = None,
        gutter: float = 5.0,
        optimize: OptimizeOptions | None = None,
        defaults: UserDefaults | None = None,
    ) -> PageSettings:
        """Options as the user gave them (None: not given) -> settings: option, environment,
        config file, the machine profile's own paper and orientation."""
        defaults = defaults or load_defaults()
        profile = machine_profile(machine, defaults)
        return cls(
            profile=profile,
            paper=paper or defaults.paper or profile.paper,
            landscape=profile.landscape if landscape is None else landscape,
            margin_mm=defaults.margin if margin is None else margin,
            grid=parse_grid(grid) if grid else None,
            gutter_mm=gutter,
            optimize=optimize or OptimizeOptions(),
        )


@dataclass(frozen=True)
class Page:
    """One laid-out page: the vpype document, its G-code for the machine and what it costs."""

    document: vp.Document
    gcode: str
    estimate: PlotEstimate
    unoptimized: PlotEstimate  # the same page before path optimisation
    profile: MachineProfile
    count: int

    @property
    def line_count(self) -> int:
        return self.gcode.count("\n")

    def describe_optimisation(self) -> list[str]:
        """The paths before and after optimisation, measured on the G-code as the estimate is
        (one travel figure, not vpype's and the machine's)."""
        return [f"before: {self.unoptimized.describe_paths()}", f"after:  {self.estimate.describe_paths()}"]


def build_page(
    sketches: Sequence[np.ndarray | Drawing],
    settings: PageSettings,
    *,
    title: str = "",
    line_layers: Sequence[Sequence[int]] | None = None,
) -> Page:
    """Lay out sketches (stroke-3 from the origin, as the models draw them, or drawings: lists of
    complex polylines), optimise and write the G-code; a page that leaves the machine's work
    area is refused here, before any file is written."""
    drawings = [from_origin(s) if isinstance(s, np.ndarray) else s for s in sketches]
    result = plot_page(
        drawings,
        paper=settings.paper,
        landscape=settings.landscape,
        margin_mm=settings.margin_mm,
        grid=settings.grid,
        gutter_mm=settings.gutter_mm,
        optimize=settings.optimize,
        line_layers=line_layers,
        profile=settings.profile,
    )
    gcode = write_gcode(result.document, settings.profile, title=title)
    unoptimized = estimate_gcode(write_gcode(result.unoptimized, settings.profile), settings.profile)
    return Page(
        result.document, gcode, estimate_gcode(gcode, settings.profile), unoptimized, settings.profile, len(drawings)
    )


def _write(what: str, path: str | os.PathLike, write) -> None:
    """Create the folder and write; an unwritable path is a one-line error."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write(path)
    except OSError as exc:
        raise SketchplotError(f"cannot write {what} {path}: {exc.strerror or exc}") from None


def write_outputs(
    page: Page,
    *,
    gcode_path: str | None = None,
    preview_path: str | None = None,
    show_travel: bool = False,
    sketches_path: str | None = None,
    sketches: Sequence[np.ndarray | Drawing] = (),
    max_len: int | None = None,
) -> None:
    """The page's files, folders created: G-code first (a failed write leaves no preview of a
    page that was not written), then the preview, then the sketches behind it as stroke-3."""
    if gcode_path:
        _write("G-code", gcode_path, lambda path: atomic_write_text(path, page.gcode, encoding="ascii"))
    if preview_path:
        _write("preview", preview_path, lambda path: write_preview(page.document, path, show_travel=show_travel))
    if sketches_path:
        write_sketches(sketches_path, [as_stroke3(s) for s in sketches], max_len=max_len)


def sketch_preview(sketches: Sequence[np.ndarray]) -> vp.Document:
    """A preview page of stroke-3 sketches (A4 landscape, no machine): laid out now, written by
    ``write_sketch_preview`` once every other output is written."""
    return plot_page([from_origin(s) for s in sketches if len(s)]).document


def write_sketch_preview(document: vp.Document, path: str | os.PathLike) -> None:
    _write("preview", path, lambda target: write_preview(document, target))


@dataclass(frozen=True)
class DrawnPage:
    """A page whose files are written: what was written, and the port it goes to (None: dry run)."""

    page: Page
    outputs: list[tuple[str, str]]  # (label, path) of each file written
    port: str | None
    gcode_path: str | None


def draw_page(
    items: Sequence[np.ndarray | Drawing],
    *,
    title: str,
    job: str,
    strokes: Sequence[np.ndarray] = (),
    max_len: int | None = None,
    line_layers: Sequence[Sequence[int]] | None = None,
    optimize: OptimizeOptions | None = None,
    landscape: bool | None = None,
    gutter: float = 5.0,
    grid: str | None = None,
    machine: str | None = None,
    paper: str | None = None,
    margin: float | None = None,
    port: str | None = None,
    dry_run: bool = False,
    gcode_path: str | None = None,
    preview_path: str | None = None,
    show_travel: bool = False,
    sketches_path: str | None = None,
) -> DrawnPage:
    """What every drawing command does before the machine moves: settings from the options and
    the user's defaults, the page, its files (the G-code of a job to stream is kept under the
    user's job folder when no --gcode names it), and the port it will be plotted on."""
    defaults = load_defaults()
    settings = PageSettings.resolve(
        machine=machine,
        paper=paper,
        landscape=landscape,
        margin=margin,
        grid=grid,
        gutter=gutter,
        optimize=optimize,
        defaults=defaults,
    )
    page = build_page(items, settings, title=title, line_layers=line_layers)
    port = None if dry_run else (port or defaults.port)
    if port and not gcode_path:
        gcode_path = str(new_job_path(job))
    write_outputs(
        page,
        gcode_path=gcode_path,
        preview_path=preview_path,
        show_travel=show_travel,
        sketches_path=sketches_path,
        sketches=strokes or items,
        max_len=max_len,
    )
    outputs = [
        (label, path)
        for label, path in (("preview", preview_path), ("G-code", gcode_path), ("sketches", sketches_path))
        if path
    ]
    return DrawnPage(page, outputs, port, gcode_path)


def read_plot_input(
    path: str, *, split: str = "test", indices: list[int] | None = None, limit: int | None = None
) -> dict:
    """The drawings of a sketch file and how ``draw_page`` names their page."""
    drawings = load_drawings(path, split=split, indices=indices, limit=limit)
    return {"items": drawings, "title": f"{len(drawings)} sketch(es) from {Path(path).name}", "job": Path(path).stem}


@dataclass(frozen=True)
class FileEstimate:
    """What a G-code file costs on a machine, and why it may not run there."""

    estimate: PlotEstimate
    warning: str | None  # set when the file leaves the machine's work area


def estimate_file(path: str | os.PathLike, profile: MachineProfile) -> FileEstimate:
    """The estimate of a G-code file; a file that would leave the work area gets a warning
    (the streamer refuses it)."""
    blocks: list[Block] = read_gcode(Path(path))
    try:
        check_work_area(blocks, profile)
        warning = None
    except OutOfWorkAreaError as exc:
        warning = f"{exc}; the streamer will refuse this file on this machine"
    return FileEstimate(estimate_blocks(blocks, profile), warning)
