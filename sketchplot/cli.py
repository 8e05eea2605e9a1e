"""The ``sketchplot`` command line: thin click commands over the library layers.

Every command lives here; each does argument parsing and printing only and calls into
``sketchplot.model``, ``sketchplot.plotter``, ``sketchplot.gcode`` or ``sketchplot.machines``.
A ``SketchplotError`` raised anywhere becomes ``Error: <one line>`` and a non-zero exit code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sketchplot.core.errors import SketchplotError
from sketchplot.model.config import PEN_TEMPERATURE


class _Group(click.Group):
    """A click group that reports user errors in one line instead of a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SketchplotError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=_Group)
@click.version_option(package_name="sketchplot")
def cli():
    """Draw neural-network sketches with a GRBL pen plotter."""


def _machine(name, defaults=None):
    """The machine profile: the option, else $SKETCHPLOT_MACHINE, the config file, a4-servo."""
    from sketchplot.core.profiles import load_profile
    from sketchplot.core.settings import load_defaults

    return load_profile(name or (defaults or load_defaults()).machine)


# ---- machines (profiles) -------------------------------------------------------------------


@cli.group(cls=_Group, invoke_without_command=True)
@click.pass_context
def machines(ctx):
    """List machine profiles (shipped and user), or show one."""
    if ctx.invoked_subcommand is not None:
        return
    from sketchplot.core.profiles import available_profiles, load_profile

    for name, path in sorted(available_profiles().items()):
        profile = load_profile(str(path))
        click.echo(
            f"{name:<14} {profile.width:g} x {profile.height:g} mm  {profile.pen.method:<5}  "
            f"{profile.description}"
        )


@machines.command("show")
@click.argument("name")
def machines_show(name):
    """Print one machine profile as TOML (NAME or a path to a .toml file)."""
    from sketchplot.core.profiles import load_profile

    profile = load_profile(name)
    click.echo(f"# {profile.source}")
    click.echo(profile.to_toml(), nl=False)


# ---- plot pipeline: plot, estimate (issue 3) ----------------------------------------------


def _index_list(ctx, param, value):
    """'0,3,7' -> [0, 3, 7]."""
    if value is None:
        return None
    try:
        return [int(part) for part in value.split(",")]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got '{value}'") from None


@cli.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False))
@click.option("--split", default="test", show_default=True, help="npz split: train, valid or test.")
@click.option("--index", "indices", callback=_index_list, help="Sketches to plot, e.g. 0,3,7.")
@click.option("--limit", type=click.IntRange(min=1), help="Plot the first N sketches.")
@click.option("--grid", help="ROWSxCOLUMNS (default: the grid with the largest cells).")
@click.option("--paper", help="a3, a4, letter, ... or WxH in mm (default: the machine's paper).")
@click.option("--landscape/--portrait", default=None, help="Paper orientation (default: the machine's).")
@click.option("--margin", type=click.FloatRange(min=0), default=10.0, show_default=True, help="Margin in mm.")
@click.option("--gutter", type=click.FloatRange(min=0), default=5.0, show_default=True, help="Gap between grid cells, mm.")
@click.option("--machine", default=None, help="Machine profile (default: $SKETCHPLOT_MACHINE, config, a4-servo).")
@click.option("--gcode", "gcode_path", type=click.Path(dir_okay=False), help="Write G-code here.")
@click.option("--preview", "preview_path", type=click.Path(dir_okay=False), help="Write an SVG preview here.")
@click.option("--show-travel/--hide-travel", default=True, show_default=True, help="Pen-up travel in red in the preview.")
@click.option("--linemerge/--no-linemerge", default=True, show_default=True)
@click.option("--merge-tolerance", type=click.FloatRange(min=0), default=0.1, show_default=True, help="mm")
@click.option("--linesort/--no-linesort", default=True, show_default=True)
@click.option("--two-opt/--no-two-opt", default=True, show_default=True, help="vpype linesort's two-opt pass.")
@click.option("--linesimplify/--no-linesimplify", default=True, show_default=True)
@click.option("--simplify-tolerance", type=click.FloatRange(min=0), default=0.05, show_default=True, help="mm")
@click.option("--reloop/--no-reloop", default=False, show_default=True, help="Randomise seams of closed paths.")
@click.option("--reloop-tolerance", type=click.FloatRange(min=0), default=0.05, show_default=True, help="mm")
def plot(input_path, split, indices, limit, grid, paper, landscape, margin, gutter, machine, gcode_path,
         preview_path, show_travel, linemerge, merge_tolerance, linesort, two_opt, linesimplify,
         simplify_tolerance, reloop, reloop_tolerance):
    """Lay out sketches from INPUT (.npz, .ndjson, .svg), optimise, write G-code and/or a preview."""

    from sketchplot.core.atomic import atomic_write_text
    from sketchplot.core.formats import load_drawings
    from sketchplot.gcode.estimate import estimate_gcode
    from sketchplot.gcode.writer import write_gcode
    from sketchplot.plotter.layout import parse_grid
    from sketchplot.plotter.optimize import OptimizeOptions
    from sketchplot.plotter.pipeline import plot_page
    from sketchplot.plotter.preview import write_preview

    profile = _machine(machine)
    options = OptimizeOptions(
        linemerge=linemerge, merge_tolerance_mm=merge_tolerance, linesort=linesort, two_opt=two_opt,
        linesimplify=linesimplify, simplify_tolerance_mm=simplify_tolerance, reloop=reloop,
        reloop_tolerance_mm=reloop_tolerance,
    )
    drawings = load_drawings(input_path, split=split, indices=indices, limit=limit)
    result = plot_page(
        drawings,
        paper=paper or profile.paper,
        landscape=profile.landscape if landscape is None else landscape,
        margin_mm=margin,
        grid=parse_grid(grid) if grid else None,
        gutter_mm=gutter,
        optimize=options,
    )
    gcode = write_gcode(result.document, profile, title=Path(input_path).stem)  # bounds check
    click.echo(f"{len(drawings)} sketch(es) on {profile.name}")
    click.echo(f"before: {result.stats_before.describe()}")
    click.echo(f"after:  {result.stats_after.describe()}")
    if gcode_path:  # G-code first: if its write fails, no preview of a page that was not written
        try:
            atomic_write_text(gcode_path, gcode, encoding="ascii")
        except OSError as exc:
            raise SketchplotError(f"cannot write G-code {gcode_path}: {exc.strerror or exc}") from None
    if preview_path:
        write_preview(result.document, preview_path, show_travel=show_travel)
        click.echo(f"preview: {preview_path}")
    if gcode_path:
        click.echo(f"G-code: {gcode_path} ({gcode.count(chr(10))} lines)")
        click.echo(estimate_gcode(gcode, profile).describe())


@cli.command()
@click.argument("gcode_path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--machine", default=None, help="Machine profile (default: $SKETCHPLOT_MACHINE, config, a4-servo).")
def estimate(gcode_path, machine):
    """Pen-down length, travel, pen lifts and plot time of a G-code FILE on a machine."""
    from sketchplot.gcode.estimate import estimate_gcode

    click.echo(estimate_gcode(gcode_path, _machine(machine)).describe())



# ---- machine layer: stream (issue 4) ------------------------------------------------------


@cli.command()
@click.argument("gcode", type=click.Path(exists=True, dir_okay=False))
@click.option("--port", help="Serial device (/dev/ttyUSB0) or pyserial URL (sim://?profile=a4-servo); default: $SKETCHPLOT_PORT or config.")
@click.option("--machine", default=None, help="Machine profile (default: $SKETCHPLOT_MACHINE, config, a4-servo).")
@click.option("--baud", type=int, default=None, help="Baud rate (default: the profile's).")
@click.option("--send-and-wait", is_flag=True, help="Wait for each ok before sending the next line (slow, simple).")
@click.option("--check", is_flag=True, help="Run the file through GRBL's check mode ($C) first.")
@click.option("--resume", is_flag=True, help="Continue after the last line the journal knows has run.")
@click.option("--start-line", type=click.IntRange(min=1), default=None, help="Continue from file line N.")
@click.option("--journal", "journal_path", type=click.Path(dir_okay=False), default=None,
              help="Journal file (default: FILE.journal.json next to the G-code).")
@click.option("--timeout", type=click.FloatRange(min=0.05), default=5.0, show_default=True,
              help="Seconds without any answer from GRBL before the job is stopped (and at least the wait for its banner).")
@click.option("--allow-settings", is_flag=True,
              help="Send $ lines that change GRBL's stored settings ($100=..., $RST=, $N0=, $I=); refused otherwise.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def stream(gcode, port, machine, baud, send_and_wait, check, resume, start_line, journal_path, timeout, allow_settings,
           quiet):
    """Stream GCODE to a GRBL 1.1 plotter and stop safely (pen up) on any error.

    Exit codes: 0 done, 2 not a GRBL port, 3 GRBL error or alarm mid-job, 4 link failure
    (timeout, port lost, noise, reset), 130 Ctrl-C. After 3, 4 or 130 the journal lets
    `--resume` finish the drawing without drawing anything twice.
    """
    from sketchplot.core.settings import load_defaults

    if resume and start_line is not None:
        raise click.UsageError("use either --resume or --start-line, not both")
    profile = _machine(machine)
    port = port or load_defaults().port
    if not port:
        raise click.UsageError("no port: give --port, or set SKETCHPLOT_PORT or port in the config file")
    report = _stream_with_progress(
        gcode, port, profile, quiet, baud=baud, send_and_wait=send_and_wait, check=check, resume=resume,
        start_line=start_line, journal_path=journal_path, timeout=timeout, allow_settings=allow_settings,
    )
    if not quiet:
        click.echo(f"done: {report.lines} lines, {report.bytes_sent} bytes in {report.seconds:.1f} s")


def _stream_with_progress(gcode, port, profile, quiet: bool, **options):
    """Stream a G-code file with a progress bar whose length is the estimated machine time,
    so percentage and ETA follow time, not lines."""
    from sketchplot.machines.streamer import stream_file

    bar = None
    shown_ms = 0

    def on_progress(progress):
        nonlocal bar, shown_ms
        if quiet:
            return
        if bar is None:
            bar = click.progressbar(
                length=max(1, round(progress.seconds_total * 1000)),
                label=f"{gcode} ({_estimate_label(gcode, profile)})",
                show_eta=True,
                show_percent=True,
                item_show_func=lambda done: f"line {done}/{progress.lines_total}" if done is not None else "",
            )
            bar.__enter__()
        done_ms = round(progress.seconds_done * 1000)
        bar.update(done_ms - shown_ms, progress.lines_done)
        shown_ms = done_ms

    def on_pause(pause):
        """The machine holds at a pen change (M0): close the bar, ask, and let the next
        progress update draw a fresh bar below the prompt."""
        nonlocal bar, shown_ms
        if bar is not None:
            bar.__exit__(None, None, None)
            bar, shown_ms = None, 0
        pen = f"layer {pause.next_layer}" if pause.next_layer else f"pause {pause.number} of {pause.total}"
        if port.startswith("sim://"):
            if not quiet:
                click.echo(f"pen change ({pen}): simulator continues")
            return
        try:
            click.prompt(f"Put in the pen for {pen}, then press Enter", default="", show_default=False)
        except click.Abort:  # Ctrl-C or end of input at the prompt: stop the job safely
            raise KeyboardInterrupt from None

    try:
        return stream_file(gcode, port, profile, on_progress=on_progress, on_pause=on_pause, **options)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


def _estimate_label(gcode, profile) -> str:
    """The plot-time estimate (GRBL planner model) for the progress bar's label."""
    from sketchplot.gcode.estimate import estimate_gcode, format_duration

    return f"estimated {format_duration(estimate_gcode(gcode, profile).seconds)}"



# ---- model: train, sample, eval, models (issue 5) -----------------------------------------


@cli.command()
@click.argument("classes", metavar="CLASS...", nargs=-1, required=True)
@click.option("--data", "data_paths", multiple=True, required=True, type=click.Path(exists=True, dir_okay=False),
              help="A .npz or .ndjson file per class, in the order of the classes (repeat --data).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), help="Training settings (TOML).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Run directory (default: runs/<classes>).")
@click.option("--resume", is_flag=True, help="Continue from the run directory's checkpoint.")
@click.option("--toy", type=click.IntRange(min=1), help="Train on the first N sketches of each class (overfit check).")
@click.option("--max-steps", type=click.IntRange(min=1), help="Override the config's max_steps.")
@click.option("--device", help="cpu, cuda, cuda:1, mps (default: the config's, auto).")
@click.option("--sample-every", "sample_interval", type=click.IntRange(min=1),
              help="Every N steps, sample sketches and log their recognisability and FID (config: sample_interval).")
@click.option("--sample-count", type=click.IntRange(1, 10_000), help="Sketches per such check (default 200).")
@click.option("--best-by", type=click.Choice(["loss", "recognizability"]),
              help="Keep OUT/best by validation loss or by the samples' recognisability.")
def train(classes, data_paths, config_path, out_dir, resume, toy, max_steps, device, sample_interval,
          sample_count, best_by):
    """Train a model for CLASS... (one --data file each); the best model goes to OUT/best."""
    import dataclasses
    import json

    from sketchplot.model.train import TrainConfig
    from sketchplot.model.train import train as run_training

    if len(data_paths) != len(classes):
        raise SketchplotError(f"{len(classes)} class(es) but {len(data_paths)} --data file(s): give one per class")
    cfg = TrainConfig.from_toml(config_path) if config_path else TrainConfig()
    overrides = {"toy": toy, "max_steps": max_steps, "device": device, "sample_interval": sample_interval,
                 "sample_count": sample_count, "best_by": best_by}
    try:
        cfg = dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    except ValueError as exc:
        raise SketchplotError(f"training settings: {exc}") from None
    out = Path(out_dir or Path("runs") / "-".join(classes))
    result = run_training(list(classes), [Path(p) for p in data_paths], out, cfg, resume=resume)
    click.echo(json.dumps(result))
    click.echo(f"model: {out / 'best'}   log: {out / 'log.jsonl'}")


@cli.command()
@click.argument("class_name", metavar="CLASS")
@click.option("-n", "count", type=click.IntRange(1, 10_000), default=16, show_default=True, help="Number of sketches.")
@click.option("--temp", "temperature", type=float, default=0.5, show_default=True, help="Sampling temperature.")
@click.option("--pen-temp", "pen_temperature", type=float, default=PEN_TEMPERATURE, show_default=True,
              help="Temperature of the pen state alone; equal to --temp is Sketch-RNN's rule (longer sketches).")
@click.option("--seed", type=click.IntRange(min=0), help="Random seed (reproducible output).")
@click.option("--model", "model_path", help="Model directory, Magenta .gen.json, or installed model name.")
@click.option("--max-len", type=click.IntRange(min=1), help="Maximum points per sketch (default: the model's).")
@click.option("-o", "out_path", type=click.Path(dir_okay=False), help="Write sketches to OUT.npz (key 'sketches').")
@click.option("--preview", "preview_path", type=click.Path(dir_okay=False), help="Write an SVG page of the sketches.")
@click.option("--best-of", type=click.IntRange(1, 32), default=1, show_default=True,
              help="Sample K candidates per sketch and keep the one the sketch classifier recognises best.")
def sample(class_name, count, temperature, pen_temperature, seed, model_path, max_len, out_path, preview_path,
           best_of):
    """Draw N sketches of CLASS with a shipped, user or given model."""
    import numpy as np

    from sketchplot.model.registry import resolve
    from sketchplot.model.sample import check_temperature
    from sketchplot.model.scoring import sample_best_of

    check_temperature(temperature)
    decoder, info, index = resolve(class_name, model_path)
    sketches = sample_best_of(decoder, count, best_of, info.classes[index], scale=info.scale,
                              temperature=temperature, seed=seed, class_index=index,
                              max_len=max_len or info.max_seq_len, pen_temperature=pen_temperature)
    points = np.mean([len(s) for s in sketches])
    page = None
    if preview_path:  # laid out before anything is written: a failure leaves no output
        from sketchplot.core.formats import from_origin
        from sketchplot.plotter.pipeline import plot_page

        page = plot_page([from_origin(s) for s in sketches if len(s)]).document
    click.echo(f"{count} {class_name} sketch(es), temperature {temperature:g}, mean {points:.1f} points")
    if out_path:
        from sketchplot.core.formats import write_sketches

        write_sketches(out_path, sketches, max_len=max_len or info.max_seq_len)
        click.echo(f"sketches: {out_path}")
    if page is not None:
        from sketchplot.plotter.preview import write_preview

        write_preview(page, preview_path)
        click.echo(f"preview: {preview_path}")


@cli.command("eval")
@click.argument("model", metavar="MODEL")
@click.option("--data", "data_path", required=True, type=click.Path(exists=True, dir_okay=False), help=".npz or .ndjson")
@click.option("--split", default="test", show_default=True, help="npz split to score.")
@click.option("--class", "class_name", help="Class to score (default: the data file's name).")
@click.option("--max-seq-len", type=click.IntRange(min=1), default=250, show_default=True,
              help="Longer sketches are dropped; N_max of L_R.")
@click.option("--limit", type=click.IntRange(min=1), help="Score only the first N sketches.")
def evaluate(model, data_path, split, class_name, max_seq_len, limit):
    """Test-set NLL of MODEL (installed name, model directory or Magenta .gen.json) as JSON.

    Offsets in units of the data's own train-split std for every model, so ours and Magenta's compare.
    """
    import json

    from sketchplot.model.evaluate import evaluate_file
    from sketchplot.model.registry import class_index, find_model, is_magenta, load_any

    path = find_model(model)
    decoder, info = load_any(path)
    name = class_name or (info.classes[0] if len(info.classes) == 1 else Path(data_path).name.split(".")[0])
    index = class_index(info, name, model)
    limit_len = min(max_seq_len, decoder.block_size - 1)
    encoder = None
    if getattr(info.model, "conditional", False):
        from sketchplot.model.files import load_encoder

        encoder = load_encoder(path)
    result = evaluate_file(decoder, None if is_magenta(info) else info.scale, data_path, split=split,
                           class_index=index, max_seq_len=limit_len, limit=limit, encoder=encoder)
    click.echo(json.dumps({"model": model, "class": name, "data": str(data_path), "split": split,
                           **result.to_dict()}, indent=2))


@cli.command()
def models():
    """List installed models (user models first, they win) and the classes each draws;
    conditional (VAE) models serve reconstruct, interpolate and analogy."""
    from sketchplot.core.paths import user_model_dir
    from sketchplot.model.registry import available_models, is_labelled, shipped_model_dir

    entries = available_models()
    for entry in entries:
        if entry.error:
            click.echo(f"{entry.name:<16} {entry.origin:<8} UNREADABLE: {entry.error}")
            continue
        nll = entry.info.metrics.get("test_nll")
        if isinstance(nll, dict) and nll and all(isinstance(v, (int, float)) for v in nll.values()):  # per class
            nll = sum(nll.values()) / len(nll)
        extra = f"  test NLL {nll:.3f}" if isinstance(nll, (int, float)) else ""
        if getattr(entry.info.model, "conditional", False):
            extra += "  conditional (VAE)" + ("" if is_labelled(entry.info) else ", classes unlabelled")
        click.echo(f"{entry.name:<16} {entry.origin:<8} {', '.join(entry.classes)}{extra}")
    if not entries:
        click.echo("no models installed")
    click.echo(f"(user models: {user_model_dir()}; shipped: {shipped_model_dir()})")


@cli.command("classes")
def classes_command():
    """List every class the installed models draw, with the model that draws it."""
    from sketchplot.model.registry import class_table

    table = class_table()
    width = max((len(name) for name in table), default=0)
    for name, model in table.items():
        click.echo(f"{name:<{width}}  {model}")
    if not table:
        click.echo("no models installed")


# ---- draw (issue 6) -----------------------------------------------------------------------


def _page_options(command):
    """The layout and output options every drawing command shares: where the page goes
    (G-code, preview, a plotter or the simulator) and how it is laid out."""
    options = [
        click.option("--grid", help="ROWSxCOLUMNS (default: the grid with the largest cells)."),
        click.option("--machine", default=None, help="Machine profile (default: $SKETCHPLOT_MACHINE, config, a4-servo)."),
        click.option("--paper", default=None, help="a4, a3, letter, ... or WxH in mm (default: the machine's paper)."),
        click.option("--margin", type=click.FloatRange(min=0), default=None, help="Margin in mm (default 10)."),
        click.option("--port", default=None,
                     help="Serial port or URL, e.g. /dev/ttyUSB0 or sim:// (default: $SKETCHPLOT_PORT)."),
        click.option("--dry-run", is_flag=True, help="Move nothing: write the G-code and/or preview and report."),
        click.option("--gcode", "gcode_path", type=click.Path(dir_okay=False), help="Write the G-code here."),
        click.option("--preview", "preview_path", type=click.Path(dir_okay=False), help="Write an SVG preview here."),
        click.option("-o", "strokes_path", type=click.Path(dir_okay=False),
                     help="Write the drawn sketches here as stroke-3 (the `sample -o` .npz format), in page order."),
        click.option("--yes", is_flag=True, help="Do not ask before moving a real machine."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _draw_page(sketches, *, title: str, job_name: str, grid, machine, paper, margin, port, dry_run, gcode_path,
               preview_path, strokes_path, yes, quiet, line_layers=None, strokes=None, max_len=None) -> None:
    """Lay out stroke-3 sketches (model output, starting at the origin) or polyline lists, then
    write the G-code, preview and stroke data (``strokes``: the stroke-3 arrays behind polyline
    lists) and plot on PORT, as ``draw`` does for every drawing command."""
    import numpy as np

    from sketchplot.core.atomic import atomic_write_text
    from sketchplot.core.formats import from_origin
    from sketchplot.core.settings import load_defaults
    from sketchplot.gcode.estimate import estimate_gcode
    from sketchplot.gcode.writer import write_gcode
    from sketchplot.plotter.layout import parse_grid
    from sketchplot.plotter.pipeline import plot_page
    from sketchplot.plotter.preview import write_preview

    defaults = load_defaults()
    profile = _machine(machine, defaults)
    port = None if dry_run else (port or defaults.port)
    page = plot_page(
        [from_origin(s) if isinstance(s, np.ndarray) else s for s in sketches],
        paper=paper or defaults.paper or profile.paper,
        landscape=profile.landscape,
        margin_mm=defaults.margin if margin is None else margin,
        grid=parse_grid(grid) if grid else None,
        line_layers=line_layers,
    )
    gcode = write_gcode(page.document, profile, title=title)  # bounds check first
    if preview_path:
        _write_output(preview_path, lambda path: write_preview(page.document, path))
    if port and not gcode_path:
        gcode_path = _job_path(job_name)
    if gcode_path:
        _write_output(gcode_path, lambda path: atomic_write_text(path, gcode, encoding="ascii"))
    if strokes_path:
        from sketchplot.core.formats import write_sketches

        write_sketches(strokes_path, sketches if strokes is None else strokes, max_len=max_len)
    estimate = estimate_gcode(gcode, profile)
    click.echo(f"{title} on {profile.name}")
    click.echo(estimate.describe())
    for label, path in (("preview", preview_path), ("G-code", gcode_path), ("sketches", strokes_path)):
        if path:
            click.echo(f"{label}: {path}")
    if not port:
        click.echo("dry run: nothing was sent to a machine")
        return
    if not port.startswith("sim://") and not yes:
        click.confirm(f"Move the plotter on {port} now? Put paper in and the pen in its holder", abort=True)
    try:
        report = _stream_with_progress(gcode_path, port, profile, quiet)
    except SketchplotError as exc:
        from sketchplot.machines.streamer import RESUME_HINT

        if RESUME_HINT in str(exc):
            exc.args = (str(exc).replace(RESUME_HINT, f"resume with: sketchplot stream {gcode_path} "
                                                      f"--port '{port}' --machine {profile.name} --resume"),)
        raise
    click.echo(f"done: {report.lines} lines in {report.seconds:.1f} s")


@cli.command()
@click.argument("class_name", metavar="CLASS")
@click.option("-t", "--temp", type=float, default=0.5, show_default=True, help="Sampling temperature (0.01-2).")
@click.option("--pen-temp", "pen_temperature", type=float, default=PEN_TEMPERATURE, show_default=True,
              help="Temperature of the pen state alone; equal to --temp is Sketch-RNN's rule (longer sketches).")
@click.option("-n", "count", type=click.IntRange(1, 400), default=1, show_default=True, help="Number of sketches.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Random seed: the same seed draws the same sketches.")
@click.option("--model", "model_path", default=None, help="Model directory or Magenta .gen.json (default: shipped).")
@click.option("--best-of", type=click.IntRange(1, 32), default=1, show_default=True,
              help="Sample K candidates per sketch and keep the one the sketch classifier recognises best.")
@_page_options
def draw(class_name, temp, pen_temperature, count, seed, model_path, best_of, **page):
    """Sample CLASS from a model and draw it: G-code, preview, and the plotter on PORT.

    Without a port (or with --dry-run) nothing moves. With --port sim://... the GRBL simulator
    draws it, e.g. --port "sim://?profile=a4-servo&record=drawn.json".
    """
    from sketchplot.model.registry import resolve
    from sketchplot.model.sample import check_temperature
    from sketchplot.model.scoring import sample_best_of

    check_temperature(temp)
    decoder, info, class_index = resolve(class_name, model_path)
    sketches = sample_best_of(decoder, count, best_of, info.classes[class_index], scale=info.scale,
                              temperature=temp, seed=seed, class_index=class_index, max_len=info.max_seq_len,
                              pen_temperature=pen_temperature)
    _draw_page(sketches, title=f"{count} {class_name} sketch(es) at temperature {temp:g}", job_name=class_name,
               max_len=info.max_seq_len, **page)


# ---- latent features: reconstruct, interpolate, analogy, complete (issue 7) ------------------


def _latent_options(command):
    """Sampling options of the commands that start from existing sketches."""
    options = [
        click.option("-t", "--temp", type=float, default=0.3, show_default=True,
                     help="Sampling temperature (0.01-2); low keeps closer to the code's sketch."),
        click.option("--pen-temp", "pen_temperature", type=float, default=PEN_TEMPERATURE, show_default=True,
                     help="Temperature of the pen state alone."),
        click.option("--seed", type=click.IntRange(min=0), default=None,
                     help="Random seed: the same seed draws the same sketches."),
        click.option("--model", "model_path", default=None,
                     help="Conditional model (name or directory; default: an installed one that knows the inputs)."),
        click.option("--split", default="test", show_default=True, help="Split of .npz inputs."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _parse_indices(text: str) -> list[int] | None:
    """'12' -> [12], '0,3,7' -> [0, 3, 7], '0-99' -> [0 .. 99], '0-3,9' -> [0, 1, 2, 3, 9];
    None when ``text`` is not such a list."""
    indices = []
    for part in text.split(","):
        first, dash, last = part.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            return None
        low, high = int(first), int(last) if dash else int(first)
        if high < low or high - low >= 10_000:
            return None
        indices.extend(range(low, high + 1))
    return indices


def _input_sketches(spec: str, split: str) -> tuple[list, str]:
    """(stroke-3 sketches in model units, class hint) of INPUT: an .svg, or an .npz/.ndjson file
    with optional indices (default 0): cat.npz:12, cat.npz:0,3,7 or cat.npz:0-99."""
    from sketchplot.core.formats import drawing_to_sketch, load_drawings

    path, indices = spec, None
    head, sep, tail = spec.rpartition(":")
    if sep and not Path(spec).exists() and (parsed := _parse_indices(tail)) is not None:
        path, indices = head, parsed
    drawings = load_drawings(path, split=split, indices=indices)
    hint = Path(path).stem.removeprefix("full_simplified_").removeprefix("full_raw_")
    return [drawing_to_sketch(d) for d in drawings], hint


def _input_sketch(spec: str, split: str):
    """The one sketch of INPUT (see ``_input_sketches``) and its class hint."""
    sketches, hint = _input_sketches(spec, split)
    if len(sketches) != 1:
        raise SketchplotError(f"{spec}: {len(sketches)} sketches; this command takes one")
    return sketches[0], hint


def _encode_inputs(specs, split, model_path):
    """The conditional model for these inputs and each input's latent code (the posterior mean)."""
    inputs = [_input_sketch(spec, split) for spec in specs]
    return _encode_sketches([sketch for sketch, _ in inputs], [hint for _, hint in inputs], " ".join(specs),
                            model_path)


def _encode_sketches(sketches, hints, where, model_path):
    """The conditional model for sketches of these class hints, and each sketch's latent code."""
    from sketchplot.model.latent import encode
    from sketchplot.model.registry import class_index, is_labelled, resolve_conditional

    decoder, encoder, info = resolve_conditional(model_path, hints)
    codes = [encode(encoder, [sketch], info.scale, where=where)[0][0] for sketch in sketches]
    if is_labelled(info) and len(info.classes) > 1:
        hint = next((h for h in hints if h in info.classes), None)
        index = class_index(info, hint, "the model")
    else:
        index = 0
    return decoder, info, index, codes


def _sample_codes(decoder, info, index, z, temp, pen_temperature, seed):
    from sketchplot.model.sample import check_temperature, sample

    check_temperature(temp)
    return sample(decoder, len(z), scale=info.scale, temperature=temp, seed=seed, class_index=index,
                  max_len=info.max_seq_len, pen_temperature=pen_temperature, z=z)


@cli.command()
@click.argument("input_spec", metavar="INPUT")
@click.option("-n", "count", type=click.IntRange(1, 400), default=4, show_default=True, help="Number of variations.")
@_latent_options
@_page_options
def reconstruct(input_spec, count, temp, pen_temperature, seed, model_path, split, **page):
    """Encode the sketch(es) INPUT and draw N variations of each in the model's style.

    INPUT: an .svg, or an .npz/.ndjson file with optional indices: cat.npz:12, cat.npz:0,3,7
    or cat.npz:0-99 (the N variations of each input follow each other on the page).
    """
    import numpy as np

    inputs, hint = _input_sketches(input_spec, split)
    decoder, info, index, codes = _encode_sketches(inputs, [hint], input_spec, model_path)
    sketches = _sample_codes(decoder, info, index, np.repeat(np.stack(codes), count, 0), temp, pen_temperature, seed)
    _draw_page(sketches, title=f"{count} reconstruction(s) of each of {len(inputs)} sketch(es) from {input_spec} "
               f"at temperature {temp:g}", job_name="reconstruct", max_len=info.max_seq_len, **page)


@cli.command()
@click.argument("first", metavar="A")
@click.argument("second", metavar="B")
@click.option("--steps", type=click.IntRange(2, 400), default=8, show_default=True,
              help="Sketches from A to B, both ends included.")
@_latent_options
@_page_options
def interpolate(first, second, steps, temp, pen_temperature, seed, model_path, split, **page):
    """Morph sketch A into sketch B: spherical interpolation between their latent codes,
    drawn in a row (inputs as for reconstruct)."""
    from sketchplot.model.latent import interpolate as interpolate_codes

    decoder, info, index, (z_a, z_b) = _encode_inputs([first, second], split, model_path)
    sketches = _sample_codes(decoder, info, index, interpolate_codes(z_a, z_b, steps), temp, pen_temperature, seed)
    page["grid"] = page["grid"] or f"1x{steps}"
    _draw_page(sketches, title=f"{steps} steps from {first} to {second} at temperature {temp:g}",
               job_name="interpolate", max_len=info.max_seq_len, **page)


@cli.command()
@click.argument("first", metavar="A")
@click.argument("second", metavar="B")
@click.argument("third", metavar="C")
@click.option("-n", "count", type=click.IntRange(1, 400), default=4, show_default=True, help="Number of sketches.")
@_latent_options
@_page_options
def analogy(first, second, third, count, temp, pen_temperature, seed, model_path, split, **page):
    """Latent arithmetic: draw z(A) - z(B) + z(C), what A has and B lacks added to C
    (inputs as for reconstruct)."""
    import numpy as np

    from sketchplot.model.latent import analogy as combine

    decoder, info, index, codes = _encode_inputs([first, second, third], split, model_path)
    z = np.repeat(combine(*codes)[None], count, 0)
    sketches = _sample_codes(decoder, info, index, z, temp, pen_temperature, seed)
    _draw_page(sketches, title=f"{count} sketch(es) of {first} - {second} + {third} at temperature {temp:g}",
               job_name="analogy", max_len=info.max_seq_len, **page)


@cli.command()
@click.argument("partial", metavar="PARTIAL")
@click.argument("class_name", metavar="CLASS")
@click.option("-n", "count", type=click.IntRange(1, 400), default=4, show_default=True, help="Number of endings.")
@click.option("-t", "--temp", type=float, default=0.5, show_default=True, help="Sampling temperature (0.01-2).")
@click.option("--pen-temp", "pen_temperature", type=float, default=PEN_TEMPERATURE, show_default=True,
              help="Temperature of the pen state alone.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Random seed: the same seed draws the same sketches.")
@click.option("--model", "model_path", default=None, help="Model (default: the one that draws CLASS).")
@click.option("--split", default="test", show_default=True, help="Split of an .npz input.")
@click.option("--strokes", "keep_strokes", type=click.IntRange(min=1),
              help="Keep only the first N strokes of PARTIAL (to start from a finished sketch).")
@_page_options
def complete(partial, class_name, count, temp, pen_temperature, seed, model_path, split, keep_strokes, **page):
    """Let the model finish the partial drawing(s) PARTIAL as a CLASS, N ways each.

    The partial drawing is kept exactly and drawn with pen 1, the model's endings with pen 2
    (the plotter pauses for the pen change). PARTIAL as INPUT for reconstruct, e.g. my-owl.svg,
    owl.npz:3 or owl.npz:0-9 (the N endings of each input follow each other on the page).
    """
    import numpy as np

    from sketchplot.core.formats import from_origin, split_polylines
    from sketchplot.model.registry import class_index, load_any, locate
    from sketchplot.model.sample import check_temperature, sample

    check_temperature(temp)
    prefixes, _ = _input_sketches(partial, split)
    if keep_strokes:
        prefixes = [p[: np.flatnonzero(p[:, 2] > 0.5)[:keep_strokes][-1] + 1] if np.any(p[:, 2] > 0.5) else p
                    for p in prefixes]
    path = locate(class_name, model_path)
    decoder, info = load_any(path)
    index = class_index(info, class_name, str(model_path or path))
    sketches, drawings, layers = [], [], []
    for number, prefix in enumerate(prefixes):
        if len(prefix) >= info.max_seq_len:
            raise SketchplotError(f"{partial} (sketch {number + 1}): {len(prefix)} points; the model continues "
                                  f"sketches shorter than {info.max_seq_len}")
        # A conditional model draws its codes from the prior: the partial drawing's own code says
        # "a sketch like this one", which ends too soon (measured in MODELS.md).
        endings = sample(decoder, count, scale=info.scale, temperature=temp,
                         seed=None if seed is None else seed + number, class_index=index,
                         max_len=info.max_seq_len, pen_temperature=pen_temperature, prefix=prefix)
        for sketch in endings:
            given, ending = split_polylines(from_origin(sketch), len(prefix) + 1, partial)
            drawings.append(given + ending)
            layers.append([1] * len(given) + [2] * len(ending))
        sketches += endings
    _draw_page(drawings, line_layers=layers, job_name=f"complete-{class_name}", strokes=sketches,
               max_len=info.max_seq_len,
               title=f"{count} ending(s) of each of {len(prefixes)} sketch(es) from {partial} as {class_name} "
                     f"at temperature {temp:g}", **page)


def _score_help() -> str:
    from sketchplot.model.scoring import FIELDS

    lines = ["Score SAMPLES as drawings of CLASS with the project's sketch classifier; prints JSON.",
             "",
             "SAMPLES: a `sample -o` file (key 'sketches'), a sketch-rnn npz (--split) or an ndjson file.",
             "Without --reference: recognisability and statistics only. Fields:", ""]
    return "\n".join(lines) + "\n\b\n" + "\n".join(f"{name}: {text}" for name, text in FIELDS.items())


@cli.command(help=_score_help())
@click.argument("samples_path", metavar="SAMPLES", type=click.Path(exists=True, dir_okay=False))
@click.option("--class", "class_name", required=True, help="The class the sketches should show.")
@click.option("--reference", "reference_path", type=click.Path(exists=True, dir_okay=False),
              help="Real drawings of CLASS (.npz or .ndjson) for FID and KID.")
@click.option("--split", help="npz split of SAMPLES (default: 'sketches' if present, else test).")
@click.option("--reference-split", default="test", show_default=True, help="npz split of the reference.")
@click.option("--classifier", "classifier_dir", type=click.Path(exists=True, file_okay=False),
              help="A classifier folder of your own (default: the shipped one).")
def score(samples_path, class_name, split, reference_path, reference_split, classifier_dir):
    import json

    from sketchplot.core.formats import read_sketch_file
    from sketchplot.model.classifier import load_classifier
    from sketchplot.model.scoring import reference_warning
    from sketchplot.model.scoring import score as score_sketches

    classifier = load_classifier(classifier_dir)
    classifier.class_index(class_name)
    samples = read_sketch_file(samples_path, split)
    reference = read_sketch_file(reference_path, reference_split) if reference_path else None
    report = score_sketches(samples.sketches, class_name, reference.sketches if reference else None,
                            cap=samples.cap, classifier=classifier, where=samples_path)
    if reference and (warning := reference_warning(reference, report, classifier)):
        click.echo(f"Warning: {warning}", err=True)
    click.echo(json.dumps(report))


def _write_output(path: str, write) -> None:
    """Create the folder and write; an unwritable path is a one-line error."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write(path)
    except OSError as exc:
        raise SketchplotError(f"cannot write {path}: {exc.strerror or exc}") from None


def _job_path(class_name: str) -> str:
    """Where `draw` keeps the G-code it streams, so a failed job can be resumed."""
    import time

    from sketchplot.core.paths import user_config_dir

    stamp = time.strftime("%Y%m%d-%H%M%S")
    return str(user_config_dir() / "jobs" / f"{class_name.replace(' ', '_')}-{stamp}.gcode")


if __name__ == "__main__":
    cli()
