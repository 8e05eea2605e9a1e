"""The `sketchplot` vpype generator, registered through vpype's plugin entry point."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import vpype as vp


def vpype_command() -> str:
    exe = Path(sys.executable).parent / "vpype"
    found = str(exe) if exe.exists() else shutil.which("vpype")
    if not found:
        pytest.skip("vpype's command line is not installed")
    return found


def test_sketches_join_a_vpype_pipeline(tmp_path):
    out = tmp_path / "cats.svg"
    command = [
        vpype_command(),
        "sketchplot",
        "-n",
        "6",
        "--temp",
        "0.4",
        "--seed",
        "3",
        "cat",
        "layout",
        "a4",
        "linesort",
        "write",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    document = vp.read_multilayer_svg(str(out), quantization=1.0)
    width, height = document.page_size
    assert (round(width), round(height)) == (794, 1123)  # vpype's a4 in CSS pixels
    assert len(document.layers[1]) >= 6  # at least one line per sketch
    xmin, ymin, xmax, ymax = document.bounds()
    assert 0 <= xmin < xmax <= width and 0 <= ymin < ymax <= height


def test_plugin_errors_are_vpype_errors():
    done = subprocess.run(
        [vpype_command(), "sketchplot", "--temp", "9", "cat", "stat"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "Error: temperature 9.0 out of range" in done.stderr and "Traceback" not in done.stderr


def test_a_negative_seed_is_a_usage_error_not_a_traceback():
    from click.testing import CliRunner

    from sketchplot.vpype_plugin import sketchplot

    result = CliRunner().invoke(sketchplot, ["cat", "--seed", "-1"])
    assert result.exit_code == 2 and "Traceback" not in result.output
