"""vpype plugin: a ``sketchplot`` generator command, so model sketches join any vpype pipeline.

    vpype sketchplot -n 6 --temp 0.4 cat layout a4 linesort write cats.svg

vpype parses a command's options before its arguments, so the class name comes after the
options. The sketches are laid out in a grid of ``--size`` cells (default 5 cm) with
``--gutter`` between them; follow with vpype's ``layout`` to fit them to a page. The sampling
options are spelled as in ``sketchplot sample`` and ``draw``.
"""

from __future__ import annotations

import click
import vpype as vp
import vpype_cli

from sketchplot import options as opt
from sketchplot.core.errors import SketchplotError


@click.command("sketchplot")
@click.argument("class_name", metavar="CLASS")
@click.option("-n", "--count", type=click.IntRange(1, 1000), default=1, help="Number of sketches.")
@opt.sampling_options()
@opt.best_of_option
@click.option("--columns", type=click.IntRange(1), default=None, help="Grid columns (default: square grid).")
@click.option("--size", type=vpype_cli.LengthType(), default="5cm", help="Cell size of each sketch.")
@click.option("--gutter", type=vpype_cli.LengthType(), default="5mm", help="Space between cells.")
@vpype_cli.generator
def sketchplot(
    class_name: str, count: int, best_of: int, columns: int | None, size: float, gutter: float, **sampling
) -> vp.LineCollection:
    """Sketches of CLASS sampled from a sketchplot model, in a grid of SIZE cells."""
    from sketchplot.app.sketches import sample_class
    from sketchplot.core.formats import from_origin, strokes_to_polylines
    from sketchplot.plotter.layout import cell_grid

    try:
        drawn = sample_class(class_name, count, opt.take_sampling(sampling), best_of=best_of)
        drawings = [strokes_to_polylines(from_origin(s), f"sample {k}") for k, s in enumerate(drawn.strokes)]
        return cell_grid(drawings, columns or max(1, round(count**0.5 + 0.499)), size, gutter)
    except SketchplotError as exc:
        raise click.ClickException(str(exc)) from None
