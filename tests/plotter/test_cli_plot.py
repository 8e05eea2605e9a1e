"""`sketchplot plot` and `sketchplot estimate` through click's test runner."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from sketchplot.cli import cli
from sketchplot.core.profiles import load_profile
from sketchplot.gcode.reader import pen_paths, read_gcode


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_plot_writes_gcode_and_preview_and_prints_stats(cat_npz, tmp_path):
    gcode, preview = tmp_path / "cats.gcode", tmp_path / "cats.svg"
    result = run(
        "plot",
        cat_npz,
        "--index",
        "0,3,7",
        "--machine",
        "a3-servo",
        "--grid",
        "1x3",
        "--gcode",
        gcode,
        "--preview",
        preview,
    )
    assert result.exit_code == 0, result.output
    assert "before: pen down" in result.output and "after:  pen down" in result.output
    assert "estimated time" in result.output
    assert len(pen_paths(read_gcode(gcode), load_profile("a3-servo"))) > 10
    assert preview.read_text().startswith("<?xml")


def test_estimate_command(cat_npz, tmp_path):
    gcode = tmp_path / "cat.gcode"
    assert run("plot", cat_npz, "--gcode", gcode).exit_code == 0
    result = run("estimate", gcode, "--machine", "a4-servo")
    assert result.exit_code == 0 and "too optimistic" in result.output


@pytest.fixture
def nan_npz(tmp_path):
    sketches = np.empty(1, dtype=object)
    sketches[0] = np.array([[0.0, np.nan, 1]])
    path = tmp_path / "nan.npz"
    np.savez(path, test=sketches)
    return path


@pytest.fixture
def empty_ndjson(tmp_path):
    path = tmp_path / "empty.ndjson"
    path.write_text(json.dumps({"drawing": []}) + "\n")
    return path


@pytest.mark.parametrize(
    "args, message",
    [
        (["plot", "missing.npz"], "does not exist"),
        (["plot", "{cat}", "--paper", "b9"], "unknown paper"),
        (["plot", "{cat}", "--machine", "nope"], "unknown machine"),
        (["plot", "{cat}", "--portrait", "--paper", "a4"], "outside the work area"),
        (["plot", "{cat}", "--index", "1,x"], "comma-separated"),
        (["plot", "{cat}", "--index", "99999999"], "out of range"),
        (["plot", "{cat}", "--split", "dev"], "no split"),
        (["plot", "{cat}", "--limit", "5", "--grid", "2x2"], "4 cells for 5"),
        (["plot", "{cat}", "--grid", "2by2"], "bad grid"),
        (["plot", "{nan}"], "NaN"),
        (["plot", "{empty}"], "empty sketch"),
        (["estimate", "{bad_gcode}"], "line 2"),
    ],
)
def test_bad_input_is_one_line_and_a_nonzero_exit(args, message, cat_npz, nan_npz, empty_ndjson, tmp_path):
    bad_gcode = tmp_path / "bad.gcode"
    bad_gcode.write_text("G21\nG1 X1.2.3 F100\n")
    paths = {"cat": cat_npz, "nan": nan_npz, "empty": empty_ndjson, "bad_gcode": bad_gcode}
    result = run(*[a.format(**paths) for a in args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(error_lines) == 1


def test_a_failed_gcode_write_leaves_no_preview(tmp_path, cat_npz):
    from click.testing import CliRunner

    from sketchplot.cli import cli

    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    result = CliRunner().invoke(
        cli, ["plot", str(cat_npz), "--gcode", str(blocker / "x.gcode"), "--preview", str(tmp_path / "p.svg")]
    )
    assert result.exit_code == 1 and "cannot write G-code" in result.output
    assert not (tmp_path / "p.svg").exists()
