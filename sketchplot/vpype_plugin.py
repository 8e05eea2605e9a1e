"""vpype plugin: a ``sketchplot`` generator command, so model sketches join any vpype pipeline.

    vpype sketchplot -n 6 --temp 0.4 cat layout a4 linesort write cats.svg

vpype parses a command's options before its arguments, so the class name comes after the
options. The sketches are laid out in a grid of ``--size`` cells (default 5 cm) with
``--gutter`` between them; follow with vpype's ``layout`` to fit them to a page.
"""

from __future__ import annotations

import click
import vpype as vp
import vpype_cli

from sketchplot.core.errors import SketchplotError
from sketchplot.model.config import PEN_TEMPERATURE


@click.command("sketchplot")
@click.argument("class_name", metavar="CLASS")
@click.option("-n", "--count", type=click.IntRange(1, 1000), default=1, help="Number of sketches.")
@click.option("-t", "--temp", type=float, default=0.5, help="Sampling temperature (0.01-2).")
@click.option("--pen-temp", type=float, default=PEN_TEMPERATURE, show_default=True,
              help="Temperature of the pen state alone (equal to --temp: Sketch-RNN's rule).")
@click.option("-s", "--seed", type=click.IntRange(min=0), default=None, help="Random seed for reproducible sketches.")
@click.option("-m", "--model", type=click.Path(), default=None, help="Model directory to use.")
@click.option("--columns", type=click.IntRange(1), default=None, help="Grid columns (default: square grid).")
@click.option("--size", type=vpype_cli.LengthType(), default="5cm", help="Cell size of each sketch.")
@click.option("--gutter", type=vpype_cli.LengthType(), default="5mm", help="Space between cells.")
@vpype_cli.generator
def sketchplot(class_name, count, temp, pen_temp, seed, model, columns, size, gutter) -> vp.LineCollection:
    """Sketches of CLASS sampled from a sketchplot model, in a grid of SIZE cells."""
    from sketchplot.core.formats import from_origin, strokes_to_polylines
    from sketchplot.model.registry import resolve
    from sketchplot.model.sample import sample
    from sketchplot.plotter.layout import fit_drawing

    try:
        decoder, info, class_index = resolve(class_name, model)
        sketches = sample(decoder, count, scale=info.scale, temperature=temp, seed=seed,
                          class_index=class_index, max_len=info.max_seq_len, pen_temperature=pen_temp)
        columns = columns or max(1, round(count**0.5 + 0.499))
        lines = vp.LineCollection()
        for k, sketch in enumerate(sketches):
            row, col = divmod(k, columns)
            drawing = strokes_to_polylines(from_origin(sketch), f"sample {k}")
            left, top = col * (size + gutter), row * (size + gutter)
            lines.extend(fit_drawing(drawing, left, top, size, size))
        return lines
    except SketchplotError as exc:
        raise click.ClickException(str(exc)) from None

