"""Every command spells the shared options the same and behaves alike: sampling options,
page options (the port, output folders, travel in previews), one travel figure, a warning for
files that leave the machine, the model each command picked."""

import re

import numpy as np
import pytest
from click.testing import CliRunner
from test_latent_commands import save_tiny

from sketchplot.cli import cli
from sketchplot.core.profiles import load_profile
from sketchplot.gcode.reader import pen_paths, read_gcode
from sketchplot.machines.simulator.recorder import read_record
from sketchplot.model import registry


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(autouse=True)
def models(tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCHPLOT_CONFIG_DIR", str(tmp_path / "config"))
    save_tiny(tmp_path / "config" / "models" / "tiny-cat", ["cat"])
    save_tiny(
        tmp_path / "config" / "models" / "tiny-catpig",
        ["cat", "pig"],
        latent_size=8,
        encoder_layers=1,
        mu_norm_scale=0.6,
        n_classes=1,
    )


@pytest.fixture
def npz(tmp_path):
    test = np.empty(2, dtype=object)
    test[:] = [np.array([[5, 5, 0], [20, 0, 0], [0, 20, 1], [-10, -10, 0], [5, 0, 1]], np.int16)] * 2
    np.savez(tmp_path / "cat.npz", test=test)
    return tmp_path / "cat.npz"


@pytest.mark.parametrize("command", ["sample", "draw"])
def test_sampling_options_are_spelled_alike(command, tmp_path):
    extra = ["--dry-run"] if command == "draw" else []
    result = run(command, "cat", "-n", 1, "-t", 0.3, "--pen-temp", 0.9, "--seed", 1, "--model", "tiny-cat", *extra)
    assert result.exit_code == 0, result.output
    assert "model: tiny-cat" in result.output


def test_plot_takes_the_port_and_creates_output_folders(npz, tmp_path):
    gcode, preview, record = tmp_path / "a" / "b.gcode", tmp_path / "c" / "d.svg", tmp_path / "r.json"
    result = run(
        "plot",
        npz,
        "--limit",
        2,
        "--gcode",
        gcode,
        "--preview",
        preview,
        "--show-travel",
        "--port",
        f"sim://?profile=a4-servo&record={record}",
    )
    assert result.exit_code == 0, result.output
    assert gcode.exists() and "pen-up travel" in preview.read_text()
    assert len(read_record(record)) == len(pen_paths(read_gcode(gcode), load_profile("a4-servo")))


def test_draw_can_show_travel_in_its_preview(tmp_path):
    shown, hidden = tmp_path / "shown.svg", tmp_path / "hidden.svg"
    for path, flag in ((shown, "--show-travel"), (hidden, "--hide-travel")):
        result = run("draw", "cat", "-n", 2, "--seed", 1, "--dry-run", "--preview", path, flag)
        assert result.exit_code == 0, result.output
    assert len(shown.read_text()) > len(hidden.read_text())


def test_plot_prints_one_travel_figure(npz):
    result = run("plot", npz, "--limit", 2, "--dry-run")
    assert result.exit_code == 0, result.output
    after = re.search(r"after:  .*travel (\d+) mm", result.output)[1]
    estimate = re.findall(r"travel (\d+) mm", result.output)[-1]
    assert after == estimate and "pen up" not in result.output


def test_estimate_warns_when_the_file_leaves_the_machine(tmp_path):
    gcode = tmp_path / "far.gcode"
    gcode.write_text("G21\nG90\nM3 S50\nG0 X10 Y10\nG0 X400 Y10\n")
    result = CliRunner().invoke(cli, ["estimate", str(gcode), "--machine", "a4-servo"])
    assert result.exit_code == 0 and "estimated time" in result.output
    assert "Warning:" in result.output and "outside the work area" in result.output


def test_a_class_an_unlabelled_model_knows_is_explained(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "shipped_model_dir", lambda: tmp_path / "no-shipped-models")  # none draws pig
    listing = run("models").output
    line = next(line for line in listing.splitlines() if line.startswith("tiny-catpig"))
    assert "cat, pig" in line and "reconstruct, interpolate and analogy only" in line
    result = CliRunner().invoke(cli, ["draw", "pig", "--dry-run"])
    assert result.exit_code == 1
    assert "tiny-catpig" in result.output and "learnt it without labels" in result.output


def test_latent_commands_name_their_model(npz, tmp_path):
    result = run("reconstruct", f"{npz}:0", "-n", 1, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "model: tiny-catpig" in result.output
