"""The ``sketchplot`` command line: options, printing and exit codes over ``sketchplot.app``;
imports sit inside the commands so each loads only what it uses."""

from __future__ import annotations

import json
import sys

import click

from sketchplot import options as opt
from sketchplot.core.errors import SketchplotError


class _Group(click.Group):
    """A click group that reports user errors in one line instead of a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SketchplotError as exc:
            resume = f"; resume with: {exc.resume_command}" if exc.resume_command else ""
            resume = resume or ("; run again with --resume to continue" if exc.resumable else "")
            click.echo(f"Error: {exc}{resume}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=_Group)
@click.version_option(package_name="sketchplot")
def cli():
    """Draw neural-network sketches with a GRBL pen plotter."""


@cli.group(cls=_Group, invoke_without_command=True)
@click.pass_context
def machines(ctx: click.Context):
    """List machine profiles (shipped and user), or show one."""
    from sketchplot.core.profiles import available_profiles, load_profile

    if ctx.invoked_subcommand is None:
        for name, path in sorted(available_profiles().items()):
            p = load_profile(str(path))
            click.echo(f"{name:<14} {p.width:g} x {p.height:g} mm  {p.pen.method:<5}  {p.description}")


@machines.command("show")
@click.argument("name")
def machines_show(name: str):
    """Print one machine profile as TOML (NAME or a path to a .toml file)."""
    from sketchplot.core.profiles import load_profile

    profile = load_profile(name)
    click.echo(f"# {profile.source}\n{profile.to_toml()}", nl=False)


def _draw(items, *, model=None, yes: bool, quiet: bool, **request) -> None:
    """Every drawing command's end: the page and its files (``app.pages.draw_page``), the
    report, and the plotter on PORT after asking."""
    from sketchplot.app.jobs import is_simulator
    from sketchplot.app.pages import draw_page

    drawn = draw_page(items, **request)
    if model is not None:
        click.echo(f"model: {model.model_name} ({model.model_path})")
    click.echo(f"{request['title']} on {drawn.page.profile.name}")
    for line in drawn.page.describe_optimisation() if request.get("optimize") else []:
        click.echo(line)
    click.echo(drawn.page.estimate.describe())
    for label, path in drawn.outputs:
        click.echo(f"{label}: {path}")
    if not drawn.port:
        click.echo("dry run: nothing was sent to a machine")
        return
    if not is_simulator(drawn.port) and not yes:
        click.confirm(f"Move the plotter on {drawn.port} now? Put paper in and the pen in its holder", abort=True)
    report = _stream(drawn.gcode_path, drawn.port, drawn.page.profile, quiet)
    click.echo(f"done: {report.lines} lines in {report.seconds:.1f} s")


def _stream(gcode: str, port: str, profile, quiet: bool, name_resume: bool = True, **options):
    from sketchplot.app.jobs import run_job
    from sketchplot.console import JobConsole

    with JobConsole(gcode, port, profile, quiet) as console:
        return run_job(gcode, port, profile, **console.callbacks, name_resume=name_resume, **options)


@cli.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False))
@opt.plot_input_options
@opt.page_options
@opt.optimize_options
def plot(input_path, split, indices, limit, landscape, gutter, **options):
    """Lay out sketches from INPUT (.npz, .ndjson, .svg), optimise, write G-code and/or a preview, plot on PORT."""
    from sketchplot.app.pages import read_plot_input

    request = read_plot_input(input_path, split=split, indices=indices, limit=limit)
    _draw(**request, landscape=landscape, gutter=gutter, optimize=opt.take_optimize(options), **options)


@cli.command()
@click.argument("gcode_path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@opt.estimate_options
def estimate(gcode_path, machine):
    """Pen-down length, travel, pen lifts and plot time of a G-code FILE on a machine."""
    from sketchplot.app.pages import estimate_file, machine_profile

    result = estimate_file(gcode_path, machine_profile(machine))
    click.echo(result.estimate.describe())
    if result.warning:
        click.echo(f"Warning: {result.warning}", err=True)


@cli.command()
@click.argument("gcode", type=click.Path(exists=True, dir_okay=False))
@opt.stream_options
def stream(gcode, port, machine, quiet, resume, start_line, **options):
    """Stream GCODE to a GRBL 1.1 plotter and stop safely (pen up) on any error.

    Exit codes: 0 done, 2 not a GRBL port, 3 GRBL error or alarm mid-job, 4 link failure
    (timeout, port lost, noise, reset), 130 Ctrl-C. After 3, 4 or 130 the journal lets
    `--resume` finish the drawing without drawing anything twice.
    """
    from sketchplot.app.pages import machine_profile
    from sketchplot.core.settings import load_defaults

    if resume and start_line is not None:
        raise click.UsageError("use either --resume or --start-line, not both")
    profile = machine_profile(machine)
    port = port or load_defaults().port
    if not port:
        raise click.UsageError("no port: give --port, or set SKETCHPLOT_PORT or port in the config file")
    report = _stream(gcode, port, profile, quiet, name_resume=False, resume=resume, start_line=start_line, **options)
    if not quiet:
        click.echo(f"done: {report.lines} lines, {report.bytes_sent} bytes in {report.seconds:.1f} s")


@cli.command()
@click.argument("classes", metavar="CLASS...", nargs=-1, required=True)
@opt.train_options
def train(classes, data_paths, config_path, out_dir, resume, **overrides):
    """Train a model for CLASS... (one --data file each); the best model goes to OUT/best. Needs torch."""
    from sketchplot.app.models import train_model

    result, out = train_model(list(classes), list(data_paths), out_dir, config_path, overrides, resume)
    click.echo(json.dumps(result))
    click.echo(f"model: {out / 'best'}   log: {out / 'log.jsonl'}")


@cli.command()
@click.argument("class_name", metavar="CLASS")
@opt.sampling_options()
@opt.best_of_option
@opt.sample_options
def sample(class_name, count, out_path, preview_path, best_of, max_len, **options):
    """Draw N sketches of CLASS with a shipped, user or given model."""
    from sketchplot.app.sketches import sample_class, write_samples

    how = opt.take_sampling(options)
    drawn = sample_class(class_name, count, how, best_of=best_of, max_len=max_len)
    outputs = write_samples(drawn, sketches_path=out_path, preview_path=preview_path, max_len=max_len)
    mean = sum(len(s) for s in drawn.strokes) / count
    click.echo(f"model: {drawn.model_name} ({drawn.model_path})")
    click.echo(f"{count} {class_name} sketch(es), temperature {how.temperature:g}, mean {mean:.1f} points")
    for label, path in outputs:
        click.echo(f"{label}: {path}")


@cli.command("eval")
@click.argument("model", metavar="MODEL")
@opt.eval_options
def evaluate(model, data_path, **options):
    """Test-set NLL of MODEL (installed name, model directory or Magenta .gen.json) as JSON.

    Offsets in units of the data's own train-split std for every model, so ours and Magenta's compare.
    """
    from sketchplot.app.models import evaluate_model

    click.echo(json.dumps(evaluate_model(model, data_path, **options), indent=2))


@cli.command()
def models():
    """List installed models (user models first, they win) and the classes each draws;
    conditional (VAE) models serve reconstruct, interpolate and analogy."""
    from sketchplot.app.models import model_lines

    click.echo("\n".join(model_lines()))


@cli.command("classes")
@click.option(
    "--all", "every_class", is_flag=True, help="Also every Quick, Draw! class no installed model draws yet (-)."
)
def classes_command(every_class):
    """List every class the installed models draw, with the model that draws it."""
    from sketchplot.app.models import class_lines

    click.echo("\n".join(class_lines(every_class)))


@cli.command()
@click.argument("class_name", metavar="CLASS")
@opt.count_option(1, "Number of sketches.")
@opt.sampling_options()
@opt.best_of_option
@opt.page_options
def draw(class_name, count, best_of, **page):
    """Sample CLASS from a model and draw it: G-code, preview, and the plotter on PORT.

    Without a port (or with --dry-run) nothing moves. With --port sim://... the GRBL simulator
    draws it, e.g. --port "sim://?profile=a4-servo&record=drawn.json".
    """
    from sketchplot.app.sketches import sample_class

    drawn = sample_class(class_name, count, opt.take_sampling(page), best_of=best_of)
    _draw(**drawn.page_request(), **page)


@cli.command()
@click.argument("input_spec", metavar="INPUT")
@opt.count_option(4, "Number of variations.")
@opt.latent_options
@opt.page_options
def reconstruct(input_spec, count, split, **page):
    """Encode the sketch(es) INPUT and draw N variations of each in the model's style.

    INPUT: an .svg, or an .npz/.ndjson file with optional indices: cat.npz:12, cat.npz:0,3,7
    or cat.npz:0-99 (the N variations of each input follow each other on the page).
    """
    from sketchplot.app.sketches import reconstruct

    drawn = reconstruct(input_spec, count, opt.take_sampling(page), split)
    _draw(**drawn.page_request(), **page)


@cli.command()
@click.argument("first", metavar="A")
@click.argument("second", metavar="B")
@click.option("--steps", type=click.IntRange(2, 400), default=8, show_default=True, help="Sketches from A to B.")
@opt.latent_options
@opt.page_options
def interpolate(first, second, steps, split, **page):
    """Morph sketch A into sketch B: spherical interpolation between their latent codes,
    drawn in a row (inputs as for reconstruct)."""
    from sketchplot.app.sketches import interpolate

    drawn = interpolate(first, second, steps, opt.take_sampling(page), split)
    _draw(**drawn.page_request(), **{**page, "grid": page["grid"] or f"1x{steps}"})


@cli.command()
@click.argument("first", metavar="A")
@click.argument("second", metavar="B")
@click.argument("third", metavar="C")
@opt.count_option(4, "Number of sketches.")
@opt.latent_options
@opt.page_options
def analogy(first, second, third, count, split, **page):
    """Latent arithmetic: draw z(A) - z(B) + z(C), what A has and B lacks added to C
    (inputs as for reconstruct)."""
    from sketchplot.app.sketches import analogy

    drawn = analogy(first, second, third, count, opt.take_sampling(page), split)
    _draw(**drawn.page_request(), **page)


@cli.command()
@click.argument("partial", metavar="PARTIAL")
@click.argument("class_name", metavar="CLASS")
@opt.count_option(4, "Number of endings.")
@opt.sampling_options(0.5, "Model (default: the one that draws CLASS).")
@opt.complete_options
@opt.page_options
def complete(partial, class_name, count, split, keep_strokes, **page):
    """Let the model finish the partial drawing(s) PARTIAL as a CLASS, N ways each.

    The partial drawing is kept exactly and drawn with pen 1, the model's endings with pen 2
    (the plotter pauses for the pen change). PARTIAL as INPUT for reconstruct, e.g. my-owl.svg,
    owl.npz:3 or owl.npz:0-9 (the N endings of each input follow each other on the page).
    """
    from sketchplot.app.sketches import complete

    drawn = complete(partial, class_name, count, opt.take_sampling(page), split=split, strokes=keep_strokes)
    _draw(**drawn.page_request(), **page)


@cli.command(help=opt.score_help())
@click.argument("samples_path", metavar="SAMPLES", type=click.Path(exists=True, dir_okay=False))
@opt.score_options
def score(samples_path, class_name, **options):
    from sketchplot.app.models import score_file

    result = score_file(samples_path, class_name, **options)
    if result.warning:
        click.echo(f"Warning: {result.warning}", err=True)
    click.echo(json.dumps(result.report))


if __name__ == "__main__":
    cli()
