"""reconstruct, interpolate, analogy and complete end to end with tiny models: input readers ->
model -> plot pipeline -> G-code -> GRBL simulator, and their one-line errors."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sketchplot.cli import cli
from sketchplot.core.profiles import load_profile
from sketchplot.gcode.reader import pen_paths, read_gcode
from sketchplot.machines.simulator.recorder import read_record
from sketchplot.model.config import ModelConfig
from sketchplot.model.files import ModelInfo, save_model
from sketchplot.model.net import SketchTransformer

TINY = dict(n_layer=1, n_head=2, n_embd=32, dropout=0.0, block_size=61, n_mixture=3)
PARTIAL_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200">
<path d="M 10 10 L 90 10 L 90 90" fill="none" stroke="black"/>
<path d="M 150 150 L 190 190" fill="none" stroke="black"/>
</svg>"""


def save_tiny(directory, classes, **model):
    torch.manual_seed(len(classes))
    cfg = ModelConfig(**TINY, **model)
    net = SketchTransformer(cfg).eval()
    save_model(directory, net, ModelInfo(model=cfg, scale=20.0, classes=classes, max_seq_len=60))


@pytest.fixture(autouse=True)
def models(tmp_path, monkeypatch):
    """Only these models: a conditional cat+pig model and an unconditional owl model."""
    monkeypatch.setenv("SKETCHPLOT_CONFIG_DIR", str(tmp_path / "config"))
    for variable in ("SKETCHPLOT_PORT", "SKETCHPLOT_MACHINE", "SKETCHPLOT_PAPER"):
        monkeypatch.delenv(variable, raising=False)
    save_tiny(
        tmp_path / "config" / "models" / "tiny-vae", ["cat", "pig"], latent_size=8, encoder_layers=1, mu_norm_scale=0.6
    )
    save_tiny(tmp_path / "config" / "models" / "tiny-owl", ["owl"])


@pytest.fixture
def sketches(tmp_path):
    """cat.npz and pig.npz with three test sketches each (npz layout: row 0 absolute start)."""
    rng = np.random.default_rng(5)
    for name in ("cat", "pig"):
        test = np.empty(3, dtype=object)
        test[:] = [
            np.vstack(
                [
                    [[30, 30, 0]],
                    np.column_stack([rng.integers(-20, 21, (12, 2)), np.eye(1, 12, 11)[0] + np.eye(1, 12, 5)[0]]),
                ]
            ).astype(np.int16)
            for _ in range(3)
        ]
        np.savez(tmp_path / f"{name}.npz", train=test, valid=test, test=test)
    return tmp_path


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def drawn_equals_gcode(record, gcode, machine="a4-servo"):
    profile = load_profile(machine)
    recorded, expected = read_record(record), pen_paths(read_gcode(gcode), profile)
    assert len(recorded) == len(expected) > 0
    for got, want in zip(recorded, expected):
        np.testing.assert_allclose(got, want, atol=1e-6)
    points = np.concatenate(recorded)
    assert profile.x_min <= points[:, 0].min() and points[:, 0].max() <= profile.x_max
    assert profile.y_min <= points[:, 1].min() and points[:, 1].max() <= profile.y_max


@pytest.mark.parametrize(
    "command",
    [
        ["reconstruct", "{d}/cat.npz:2", "-n", 3],
        ["interpolate", "{d}/cat.npz:0", "{d}/pig.npz:1", "--steps", 4],
        ["analogy", "{d}/cat.npz:0", "{d}/cat.npz:1", "{d}/pig.npz:2", "-n", 2],
    ],
)
def test_latent_commands_plot_on_the_simulator_exactly_their_gcode(sketches, tmp_path, command):
    gcode, record, preview = tmp_path / "job.gcode", tmp_path / "drawn.json", tmp_path / "page.svg"
    args = [str(a).format(d=sketches) for a in command]
    result = run(
        *args,
        "--seed",
        1,
        "--gcode",
        gcode,
        "--preview",
        preview,
        "--quiet",
        "--port",
        f"sim://?profile=a4-servo&record={record}",
    )
    assert result.exit_code == 0, result.output
    assert "done:" in result.output and preview.is_file()
    drawn_equals_gcode(record, gcode)


def test_interpolation_is_one_row_of_steps(sketches, tmp_path):
    import vpype as vp

    preview = tmp_path / "row.svg"
    result = run(
        "interpolate",
        f"{sketches}/cat.npz:0",
        f"{sketches}/pig.npz:1",
        "--steps",
        5,
        "--seed",
        2,
        "--dry-run",
        "--preview",
        preview,
    )
    assert result.exit_code == 0, result.output
    assert "5 steps from" in result.output
    lines, _, _ = vp.read_svg(str(preview), quantization=1.0)
    cell = (297 - 2 * 10 - 4 * 5) / 5  # A4 landscape, 10 mm margins, 5 mm gutters, 1 x 5 cells
    cells = set()
    for line in lines:
        x_mm = line.real / vp.convert_length("mm")
        first, last = ((x_mm.min() - 10) // (cell + 5), (x_mm.max() - 10 - 1e-6) // (cell + 5))
        assert first == last  # every line inside one cell
        cells.add(int(first))
    assert cells == {0, 1, 2, 3, 4}


def test_same_seed_same_reconstructions(sketches, tmp_path):
    outputs = []
    for name in ("a", "b"):
        run(
            "reconstruct",
            f"{sketches}/cat.npz:1",
            "-n",
            2,
            "--seed",
            9,
            "--dry-run",
            "--gcode",
            tmp_path / f"{name}.gcode",
        )
        outputs.append((tmp_path / f"{name}.gcode").read_text())
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("model", ["tiny-owl", "tiny-vae"])
def test_complete_draws_the_partial_drawing_first_then_pauses_for_the_second_pen(sketches, tmp_path, model):
    partial = tmp_path / "partial.svg"
    partial.write_text(PARTIAL_SVG)
    gcode, record = tmp_path / "done.gcode", tmp_path / "drawn.json"
    klass = "owl" if model == "tiny-owl" else "cat"
    result = run(
        "complete",
        partial,
        klass,
        "--model",
        model,
        "-n",
        2,
        "--seed",
        4,
        "--gcode",
        gcode,
        "--port",
        f"sim://?profile=a4-servo&record={record}",
    )
    assert result.exit_code == 0, result.output
    assert "pen change (layer 2)" in result.output
    text = gcode.read_text()
    assert text.count("\nM0") == 1
    drawn_equals_gcode(record, gcode)
    pauses = json.loads(record.read_text())["pauses"]
    assert len(pauses) == 1
    # pen 1 draws the partial drawing twice (two endings), unchanged: 2 strokes each, same shape
    first_pen = read_record(record)[: pauses[0]["drawn"]]
    assert len(first_pen) == 4
    corner = sorted(first_pen, key=len)[-2:]  # the two L-shaped strokes, one per cell
    for stroke in corner:  # axis-aligned sides; the corner itself rounded within the drawing tolerance
        steps = np.diff(stroke, axis=0)
        sides = np.hypot(steps[:, 0], steps[:, 1]) > 1.0
        assert sides.sum() >= 2
        np.testing.assert_allclose(steps[sides, 0] * steps[sides, 1], 0, atol=1e-6)


def test_complete_keeps_only_the_first_strokes_when_asked(sketches, tmp_path):
    def pen_one_strokes(*options):
        gcode = tmp_path / "c.gcode"
        result = run(
            "complete",
            f"{sketches}/cat.npz:0",
            "cat",
            "--model",
            "tiny-vae",
            "-n",
            1,
            "--seed",
            1,
            "--dry-run",
            "--gcode",
            gcode,
            *options,
        )
        assert result.exit_code == 0, result.output
        before_pause = gcode.read_text().split("\nM0")[0] + "\n"
        return len(pen_paths(read_gcode(before_pause), load_profile("a4-servo")))

    assert pen_one_strokes() == 2  # the test sketch has two strokes
    assert pen_one_strokes("--strokes", 1) == 1  # pen 1 draws only the first


@pytest.mark.parametrize(
    "args, message",
    [
        (["reconstruct", "{d}/cat.npz:7"], "index 7 out of range"),
        (["reconstruct", "{d}/nope.npz"], "input file not found"),
        (["reconstruct", "{d}/cat.npz", "--model", "tiny-owl"], "tiny-owl is not a conditional model"),
        (["interpolate", "{d}/cat.npz", "{d}/pig.npz", "--steps", 1], "Invalid value for '--steps'"),
        (["complete", "{d}/cat.npz", "gryphon"], "no model draws 'gryphon'"),
        (["analogy", "{d}/cat.npz", "{d}/pig.npz", "{d}/cat.npz", "-t", 5], "temperature 5.0 out of range"),
    ],
)
def test_user_errors_are_one_line(sketches, args, message):
    result = CliRunner().invoke(cli, [str(a).format(d=sketches) for a in args])
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("Error")]) == 1


def test_models_marks_conditional_models():
    output = run("models").output
    vae_line = next(line for line in output.splitlines() if line.startswith("tiny-vae"))
    assert "cat, pig" in vae_line and "conditional (VAE), classes unlabelled" in vae_line
    assert "conditional" not in next(line for line in output.splitlines() if line.startswith("tiny-owl"))


def _written(path):
    from sketchplot.core.formats import read_npz

    return read_npz(path, "sketches")


@pytest.mark.parametrize(
    "command, expected",
    [
        (["draw", "owl", "-n", "3"], 3),
        (["reconstruct", "{d}/cat.npz:0-2", "-n", "2"], 6),
        (["reconstruct", "{d}/cat.npz:0,2", "-n", "1"], 2),
        (["interpolate", "{d}/cat.npz:0", "{d}/pig.npz:1", "--steps", "4"], 4),
        (["analogy", "{d}/cat.npz:0", "{d}/cat.npz:1", "{d}/pig.npz:2", "-n", "2"], 2),
        (["complete", "{d}/cat.npz:0-1", "owl", "-n", "2", "--strokes", "1"], 4),
    ],
)
def test_every_generating_command_writes_what_it_draws(sketches, tmp_path, command, expected):
    out = tmp_path / "out" / "drawn.npz"
    args = [a.format(d=sketches) for a in command]
    result = run(*args, "--seed", 3, "--dry-run", "-o", out, "--preview", tmp_path / "page.svg")
    assert result.exit_code == 0, result.output
    written = _written(out)
    assert len(written) == expected and all(s.shape[1] == 3 for s in written)
    replot = run("plot", out, "--limit", expected, "--preview", tmp_path / "again.svg")
    assert replot.exit_code == 0, replot.output
    assert f"{expected} sketch" in replot.output


def test_draw_output_equals_sample_output_and_plot_keeps_the_first_segment(sketches, tmp_path):
    from sketchplot.core.formats import from_origin, load_drawings, strokes_to_polylines

    assert run("draw", "owl", "-n", "2", "--seed", 4, "--dry-run", "-o", tmp_path / "d.npz").exit_code == 0
    assert run("sample", "owl", "-n", "2", "--seed", 4, "-o", tmp_path / "s.npz").exit_code == 0
    drawn, sampled = _written(tmp_path / "d.npz"), _written(tmp_path / "s.npz")
    assert all(np.array_equal(a, b) for a, b in zip(drawn, sampled, strict=True))
    for got, sketch in zip(load_drawings(tmp_path / "s.npz", limit=2), sampled, strict=True):
        expected = strokes_to_polylines(from_origin(sketch))
        assert len(got) == len(expected) and all(np.allclose(a, b) for a, b in zip(got, expected, strict=True))
        assert got[0][0] == 0  # the first segment starts at the origin: nothing lost


def test_complete_output_holds_the_partial_drawing_then_the_ending(sketches, tmp_path):
    out = tmp_path / "c.npz"
    assert (
        run(
            "complete", f"{sketches}/cat.npz:1", "owl", "-n", "2", "--strokes", "1", "--seed", 1, "--dry-run", "-o", out
        ).exit_code
        == 0
    )
    from sketchplot.core.formats import drawing_to_sketch, load_drawings

    prefix = drawing_to_sketch(load_drawings(sketches / "cat.npz", indices=[1])[0])
    prefix = prefix[: np.flatnonzero(prefix[:, 2] > 0.5)[0] + 1]
    for sketch in _written(out):
        assert np.array_equal(sketch[: len(prefix)], prefix)
