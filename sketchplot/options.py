"""Click options that several commands share, so every command spells them the same way.

``sampling_options``: how a model samples (-t/--temp, --pen-temp, --seed, --model).
``page_options``: where a page goes (G-code, preview, sketches, a plotter) and its layout.
``optimize_options``: vpype's path optimisation, step by step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from sketchplot.app.sketches import Sampling

from sketchplot.model.config import BEST_OF, PEN_TEMPERATURE
from sketchplot.plotter.optimize import OptimizeOptions

MACHINE_HELP = "Machine profile (default: $SKETCHPLOT_MACHINE, config, a4-servo)."
PORT_HELP = (
    "Serial device (/dev/ttyUSB0) or pyserial URL (sim://?profile=a4-servo); default: $SKETCHPLOT_PORT or config."
)


def _apply(command: Callable, options: list[Callable]) -> Callable:
    for option in reversed(options):
        command = option(command)
    return command


def sampling_options(
    temperature: float = 0.5,
    model_help: str = "Model name, directory or Magenta .gen.json (default: the installed model that draws the class).",
) -> Callable[[Callable], Callable]:
    """-t/--temp (with this default), --pen-temp, --seed, --model."""

    def decorate(command: Callable) -> Callable:
        return _apply(
            command,
            [
                click.option(
                    "-t",
                    "--temp",
                    "temperature",
                    type=float,
                    default=temperature,
                    show_default=True,
                    help="Sampling temperature (0.01-2): low is tidy and typical, high is wild.",
                ),
                click.option(
                    "--pen-temp",
                    "pen_temperature",
                    type=float,
                    default=PEN_TEMPERATURE,
                    show_default=True,
                    help="Temperature of the pen state alone; equal to --temp is Sketch-RNN's rule (longer sketches).",
                ),
                click.option(
                    "--seed",
                    type=click.IntRange(min=0),
                    default=None,
                    help="Random seed: the same seed draws the same sketches.",
                ),
                click.option("--model", "model", default=None, help=model_help),
            ],
        )

    return decorate


def best_of_option(command: Callable) -> Callable:
    return click.option(
        "--best-of",
        type=click.IntRange(1, 32),
        default=BEST_OF,
        show_default=True,
        help="Sample K candidates per sketch and keep the one the sketch classifier recognises best (1: no choice).",
    )(command)


def page_options(command: Callable) -> Callable:
    """Layout and outputs of every drawing command: where the page goes (G-code, preview, the
    stroke-3 sketches, a plotter or the simulator) and how it is laid out."""
    return _apply(
        command,
        [
            click.option("--grid", help="ROWSxCOLUMNS (default: the grid with the largest cells)."),
            click.option("--machine", default=None, help=MACHINE_HELP),
            click.option(
                "--paper", default=None, help="a4, a3, letter, ... or WxH in mm (default: the machine's paper)."
            ),
            click.option("--margin", type=click.FloatRange(min=0), default=None, help="Margin in mm (default 10)."),
            click.option("--port", default=None, help=PORT_HELP),
            click.option("--dry-run", is_flag=True, help="Move nothing: write the G-code and/or preview and report."),
            click.option("--gcode", "gcode_path", type=click.Path(dir_okay=False), help="Write the G-code here."),
            click.option(
                "--preview", "preview_path", type=click.Path(dir_okay=False), help="Write an SVG preview here."
            ),
            click.option(
                "--show-travel/--hide-travel",
                default=False,
                show_default=True,
                help="Pen-up travel in red in the preview.",
            ),
            click.option(
                "-o",
                "sketches_path",
                type=click.Path(dir_okay=False),
                help="Write the drawn sketches here as stroke-3 (the `sample -o` .npz format), in page order.",
            ),
            click.option("--yes", is_flag=True, help="Do not ask before moving a real machine."),
            click.option("--quiet", is_flag=True, help="No progress bar."),
        ],
    )


def optimize_options(command: Callable) -> Callable:
    """The pen-path passes, each switchable: vpype's linemerge, linesort (two-opt),
    linesimplify and reloop, corner rounding and the planner-time sort; tolerances default
    to shares of the machine profile's drawing_tolerance."""
    return _apply(
        command,
        [
            click.option(
                "--tolerance",
                type=click.FloatRange(min=0),
                default=None,
                help="mm the drawing may move  [default: the machine's drawing_tolerance]",
            ),
            click.option("--linemerge/--no-linemerge", default=True, show_default=True),
            click.option(
                "--merge-tolerance", type=click.FloatRange(min=0), default=None, help="mm  [default: 0.8 x tolerance]"
            ),
            click.option("--linesort/--no-linesort", default=True, show_default=True),
            click.option(
                "--two-opt/--no-two-opt", default=True, show_default=True, help="vpype linesort's two-opt pass."
            ),
            click.option(
                "--time-sort/--no-time-sort",
                default=False,
                show_default=True,
                help="Two-opt on the planner's travel time after the distance sort.",
            ),
            click.option("--linesimplify/--no-linesimplify", default=True, show_default=True),
            click.option(
                "--simplify-tolerance",
                type=click.FloatRange(min=0),
                default=None,
                help="mm  [default: 0.05 x tolerance]",
            ),
            click.option(
                "--retrace/--no-retrace",
                default=True,
                show_default=True,
                help="Chain strokes that touch or cross into few pen-down paths (the ink graph), going back over drawn ink where that beats a pen lift.",
            ),
            click.option(
                "--round-corners/--no-round-corners",
                default=True,
                show_default=True,
                help="Short arcs at sharp corners, so GRBL need not brake there.",
            ),
            click.option(
                "--by-sketch/--whole-page",
                default=False,
                show_default=True,
                help="Finish each sketch before the next (a grid fills cell by cell).",
            ),
            click.option(
                "--reloop/--no-reloop", default=False, show_default=True, help="Randomise seams of closed paths."
            ),
            click.option(
                "--reloop-tolerance", type=click.FloatRange(min=0), default=0.05, show_default=True, help="mm"
            ),
        ],
    )


def take_optimize(options: dict) -> OptimizeOptions:
    """Pop ``optimize_options``' values out of a command's keyword arguments."""
    return OptimizeOptions(
        tolerance_mm=options.pop("tolerance"),
        linemerge=options.pop("linemerge"),
        merge_tolerance_mm=options.pop("merge_tolerance"),
        linesort=options.pop("linesort"),
        two_opt=options.pop("two_opt"),
        time_sort=options.pop("time_sort"),
        linesimplify=options.pop("linesimplify"),
        simplify_tolerance_mm=options.pop("simplify_tolerance"),
        retrace=options.pop("retrace"),
        round_corners=options.pop("round_corners"),
        by_sketch=options.pop("by_sketch"),
        reloop=options.pop("reloop"),
        reloop_tolerance_mm=options.pop("reloop_tolerance"),
    )


def index_list(ctx: click.Context, param: click.Parameter, value: str | None) -> list[int] | None:
    """'0,3,7' -> [0, 3, 7]."""
    if value is None:
        return None
    try:
        return [int(part) for part in value.split(",")]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got '{value}'") from None


def plot_input_options(command: Callable) -> Callable:
    """Which sketches of a file `plot` reads, and its page's orientation and gutter."""
    return _apply(
        command,
        [
            click.option(
                "--split",
                default="test",
                show_default=True,
                help="npz split: train, valid or test ('sketches' in `sample -o` files is found by itself).",
            ),
            click.option("--index", "indices", callback=index_list, help="Sketches to plot, e.g. 0,3,7."),
            click.option("--limit", type=click.IntRange(min=1), help="Plot the first N sketches."),
            click.option("--landscape/--portrait", default=None, help="Paper orientation (default: the machine's)."),
            click.option(
                "--gutter",
                type=click.FloatRange(min=0),
                default=5.0,
                show_default=True,
                help="Gap between grid cells, mm.",
            ),
        ],
    )


def estimate_options(command: Callable) -> Callable:
    """The machine an estimate is for."""
    return _apply(
        command,
        [
            click.option("--machine", default=None, help=MACHINE_HELP),
        ],
    )


def stream_options(command: Callable) -> Callable:
    """How `stream` talks to GRBL and where it resumes."""
    return _apply(
        command,
        [
            click.option("--port", help=PORT_HELP),
            click.option("--machine", default=None, help=MACHINE_HELP),
            click.option("--baud", type=int, default=None, help="Baud rate (default: the profile's)."),
            click.option(
                "--send-and-wait", is_flag=True, help="Wait for each ok before sending the next line (slow, simple)."
            ),
            click.option("--check", is_flag=True, help="Run the file through GRBL's check mode ($C) first."),
            click.option("--resume", is_flag=True, help="Continue after the last line the journal knows has run."),
            click.option("--start-line", type=click.IntRange(min=1), default=None, help="Continue from file line N."),
            click.option(
                "--journal",
                "journal_path",
                type=click.Path(dir_okay=False),
                default=None,
                help="Journal file (default: FILE.journal.json next to the G-code).",
            ),
            click.option(
                "--timeout",
                type=click.FloatRange(min=0.05),
                default=5.0,
                show_default=True,
                help="Seconds without any answer from GRBL before the job is stopped (and at least the wait for its banner).",
            ),
            click.option(
                "--allow-settings",
                is_flag=True,
                help="Send $ lines that change GRBL's stored settings ($100=..., $RST=, $N0=, $I=); refused otherwise.",
            ),
            click.option("--quiet", is_flag=True, help="No progress bar."),
        ],
    )


def train_options(command: Callable) -> Callable:
    """Data, settings and run folder of `train`."""
    return _apply(
        command,
        [
            click.option(
                "--data",
                "data_paths",
                multiple=True,
                required=True,
                type=click.Path(exists=True, dir_okay=False),
                help="A .npz or .ndjson file per class, in the order of the classes (repeat --data).",
            ),
            click.option(
                "--config",
                "config_path",
                type=click.Path(exists=True, dir_okay=False),
                help="Training settings (TOML).",
            ),
            click.option(
                "--out", "out_dir", type=click.Path(file_okay=False), help="Run directory (default: runs/<classes>)."
            ),
            click.option("--resume", is_flag=True, help="Continue from the run directory's checkpoint."),
            click.option(
                "--continue-from",
                type=click.Path(exists=True),
                metavar="MODEL",
                help="Where the checkpoint is gone: take up the run that saved MODEL, from its weights at its "
                "step, with the run's own classes, --data and --config (fresh optimizer; the learning rate "
                "warms up again).",
            ),
            click.option(
                "--toy", type=click.IntRange(min=1), help="Train on the first N sketches of each class (overfit check)."
            ),
            click.option("--max-steps", type=click.IntRange(min=1), help="Override the config's max_steps."),
            click.option("--device", help="cpu, cuda, cuda:1, mps (default: the config's, auto)."),
            click.option(
                "--sample-every",
                "sample_interval",
                type=click.IntRange(min=1),
                help="Every N steps, sample sketches and log their recognisability and FID (config: sample_interval).",
            ),
            click.option(
                "--sample-count", type=click.IntRange(1, 10_000), help="Sketches per such check (default 200)."
            ),
            click.option(
                "--best-by",
                type=click.Choice(["loss", "recognizability"]),
                help="Keep OUT/best by validation loss or by the samples' recognisability.",
            ),
        ],
    )


def sample_options(command: Callable) -> Callable:
    """Length cap and outputs of `sample`."""
    return _apply(
        command,
        [
            click.option(
                "-n", "count", type=click.IntRange(1, 10_000), default=16, show_default=True, help="Number of sketches."
            ),
            click.option(
                "--max-len", type=click.IntRange(min=1), help="Maximum points per sketch (default: the model's)."
            ),
            click.option(
                "-o", "out_path", type=click.Path(dir_okay=False), help="Write sketches to OUT.npz (key 'sketches')."
            ),
            click.option(
                "--preview", "preview_path", type=click.Path(dir_okay=False), help="Write an SVG page of the sketches."
            ),
        ],
    )


def eval_options(command: Callable) -> Callable:
    """Data and limits of `eval`."""
    return _apply(
        command,
        [
            click.option(
                "--data",
                "data_path",
                required=True,
                type=click.Path(exists=True, dir_okay=False),
                help=".npz or .ndjson",
            ),
            click.option("--split", default="test", show_default=True, help="npz split to score."),
            click.option("--class", "class_name", help="Class to score (default: the data file's name)."),
            click.option(
                "--max-seq-len",
                type=click.IntRange(min=1),
                default=250,
                show_default=True,
                help="Longer sketches are dropped; N_max of L_R.",
            ),
            click.option("--limit", type=click.IntRange(min=1), help="Score only the first N sketches."),
        ],
    )


def score_options(command: Callable) -> Callable:
    """The class, split and reference of `score`."""
    return _apply(
        command,
        [
            click.option("--class", "class_name", required=True, help="The class the sketches should show."),
            click.option(
                "--reference",
                "reference_path",
                type=click.Path(exists=True, dir_okay=False),
                help="Real drawings of CLASS (.npz or .ndjson) for FID and KID.",
            ),
            click.option("--split", help="npz split of SAMPLES (default: 'sketches' if present, else test)."),
            click.option("--reference-split", default="test", show_default=True, help="npz split of the reference."),
            click.option(
                "--classifier",
                "classifier_dir",
                type=click.Path(exists=True, file_okay=False),
                help="A classifier folder of your own (default: the shipped one).",
            ),
        ],
    )


def latent_options(command: Callable) -> Callable:
    """Sampling options of the commands that start from existing sketches, and the inputs' split."""
    command = click.option("--split", default="test", show_default=True, help="Split of .npz inputs.")(command)
    return sampling_options(
        0.3, "Conditional model (name or directory; default: an installed one that knows the inputs)."
    )(command)


def count_option(default: int, help: str) -> Callable[[Callable], Callable]:
    """-n: how many sketches a drawing command puts on its page."""
    return click.option("-n", "count", type=click.IntRange(1, 400), default=default, show_default=True, help=help)


def score_help() -> str:
    from sketchplot.model.scoring import FIELDS

    return (
        "Score SAMPLES as drawings of CLASS with the project's sketch classifier; prints JSON.\n\n"
        "SAMPLES: a `sample -o` file (key 'sketches'), a sketch-rnn npz (--split) or an ndjson file.\n"
        "Without --reference: recognisability and statistics only. Fields:\n\n\b\n"
        + "\n".join(f"{name}: {text}" for name, text in FIELDS.items())
    )


def complete_options(command: Callable) -> Callable:
    """The partial drawing's split, and how much of it `complete` keeps."""
    return _apply(
        command,
        [
            click.option("--split", default="test", show_default=True, help="Split of an .npz input."),
            click.option(
                "--strokes",
                "keep_strokes",
                type=click.IntRange(min=1),
                help="Keep only the first N strokes of PARTIAL (to start from a finished sketch).",
            ),
        ],
    )


def take_sampling(options: dict) -> Sampling:
    """Pop ``sampling_options``' values out of a command's keyword arguments as a ``Sampling``."""
    from sketchplot.app.sketches import Sampling

    return Sampling(*(options.pop(key) for key in ("temperature", "pen_temperature", "seed", "model")))
