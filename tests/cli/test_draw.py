"""`sketchplot draw` end to end: shipped model -> plot pipeline -> G-code -> simulator."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import serial
from click.testing import CliRunner

from sketchplot.cli import cli
from sketchplot.core.profiles import load_profile
from sketchplot.gcode.reader import pen_paths, read_gcode
from sketchplot.machines.simulator.recorder import read_record


@pytest.fixture(autouse=True)
def isolated_config(tmp_path, monkeypatch):
    """No user config, models, port or machine from the developer's own setup."""
    monkeypatch.setenv("SKETCHPLOT_CONFIG_DIR", str(tmp_path / "config"))
    for variable in ("SKETCHPLOT_PORT", "SKETCHPLOT_MACHINE", "SKETCHPLOT_PAPER"):
        monkeypatch.delenv(variable, raising=False)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_inside(paths, profile):
    points = np.concatenate(paths)
    assert points[:, 0].min() >= profile.x_min and points[:, 0].max() <= profile.x_max
    assert points[:, 1].min() >= profile.y_min and points[:, 1].max() <= profile.y_max


def same_paths(recorded, expected, tol=1e-6):
    assert len(recorded) == len(expected)
    for got, want in zip(recorded, expected):
        np.testing.assert_allclose(got, want, atol=tol)


def test_dry_run_writes_gcode_inside_the_work_area_and_a_preview(tmp_path):
    gcode, preview = tmp_path / "out" / "cats.gcode", tmp_path / "out" / "cats.svg"
    result = run("draw", "cat", "-n", 4, "--seed", 3, "--dry-run", "--gcode", gcode, "--preview", preview)
    assert result.exit_code == 0, result.output
    assert "4 cat sketch(es)" in result.output and "pen lifts" in result.output
    assert "estimated time" in result.output and "dry run" in result.output
    profile = load_profile("a4-servo")
    paths = pen_paths(read_gcode(gcode), profile)
    assert len(paths) >= 4
    assert_inside(paths, profile)
    import vpype as vp

    lines, width, height = vp.read_svg(str(preview), quantization=1.0)
    assert len(lines) >= 4 and (round(width), round(height)) == (round(297 * 96 / 25.4), round(210 * 96 / 25.4))


def test_same_seed_same_drawing(tmp_path):
    for name in ("a", "b"):
        assert run("draw", "cat", "--seed", 11, "--gcode", tmp_path / f"{name}.gcode").exit_code == 0
    assert (tmp_path / "a.gcode").read_text() == (tmp_path / "b.gcode").read_text()


@pytest.mark.parametrize("machine", ["a4-servo", "a4-zaxis"])
def test_draw_on_the_simulator_records_exactly_the_gcode_path(tmp_path, machine):
    gcode, record = tmp_path / "cats.gcode", tmp_path / "drawn.json"
    port = f"sim://?profile={machine}&record={record}"
    result = run("draw", "cat", "-n", 2, "--seed", 5, "--machine", machine, "--port", port, "--gcode", gcode, "--quiet")
    assert result.exit_code == 0, result.output
    profile = load_profile(machine)
    same_paths(read_record(record), pen_paths(read_gcode(gcode), profile))


def test_port_and_machine_from_config_file_and_environment(tmp_path, monkeypatch):
    record = tmp_path / "drawn.json"
    config = Path(os.environ["SKETCHPLOT_CONFIG_DIR"])
    config.mkdir(parents=True)
    (config / "config.toml").write_text(f'port = "sim://?profile=a4-zaxis&record={record}"\nmargin = 30\n')
    monkeypatch.setenv("SKETCHPLOT_MACHINE", "a4-zaxis")
    result = run("draw", "bird", "--seed", 1, "--quiet")
    assert result.exit_code == 0, result.output
    assert "on a4-zaxis" in result.output
    jobs = list((config / "jobs").glob("bird-*.gcode"))  # kept so that a failed job can be resumed
    assert len(jobs) == 1 and "G1 Z" in jobs[0].read_text()
    assert_inside(read_record(record), load_profile("a4-zaxis"))


def test_real_subprocess_dry_run(tmp_path):
    exe = Path(sys.executable).parent / "sketchplot"
    command = [
        str(exe) if exe.exists() else shutil.which("sketchplot"),
        "draw",
        "cat",
        "--dry-run",
        "--seed",
        "2",
        "--gcode",
        str(tmp_path / "x.gcode"),
    ]
    env = {**os.environ, "SKETCHPLOT_CONFIG_DIR": str(tmp_path)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert read_gcode(tmp_path / "x.gcode")


def corrupted_model(tmp_path):
    model = tmp_path / "broken"
    shutil.copytree(Path(__file__).parents[2] / "sketchplot" / "model" / "shipped" / "quickdraw345", model)
    (model / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    return model


def unreadable_config_model(tmp_path):
    model = tmp_path / "foreign"
    model.mkdir()
    (model / "config.json").write_text('{"hello": "world"}')
    return model


@pytest.mark.parametrize(
    "args, message, code",
    [
        (["draw", "cta", "--dry-run"], "no model draws 'cta'.*cat", 1),
        (["draw", "cat", "--temp", "7", "--dry-run"], "temperature 7.0 out of range", 1),
        (["draw", "cat", "--port", "/dev/ttyNOPE0", "--yes"], "cannot open /dev/ttyNOPE0: no such port", 2),
        (["draw", "cat", "--model", "{corrupted}", "--dry-run"], "corrupted or unreadable weights", 1),
        (["draw", "cat", "--model", "{foreign}", "--dry-run"], "not a sketchplot model config", 1),
        (["draw", "cat", "--model", "{missing}", "--dry-run"], "missing", 1),
        (["draw", "cat", "--paper", "a3", "--dry-run"], "outside the work area|outside", 1),
        (["draw", "cat", "--machine", "nope", "--dry-run"], "unknown machine 'nope'", 1),
        (
            ["draw", "cat", "--port", "sim://?profile=a4-servo&error_at=12&error=20", "--quiet"],
            "error:20.*resume with: sketchplot stream .* --resume",
            3,
        ),
        (
            ["draw", "cat", "--port", "sim://?profile=a4-servo&alarm_at=15&alarm=1", "--quiet"],
            "ALARM:1.*resume with: sketchplot stream",
            3,
        ),
    ],
)
def test_user_errors_are_one_line_with_exit_code(tmp_path, args, message, code):
    import re

    paths = {
        "corrupted": corrupted_model(tmp_path),
        "foreign": unreadable_config_model(tmp_path),
        "missing": tmp_path / "missing",
    }
    args = [a.format(**paths) for a in args]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == code, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and re.search(message, lines[0]), result.output
    assert "Traceback" not in result.output


def test_gcode_error_mid_job_leaves_the_pen_up_and_resume_finishes(tmp_path):
    gcode, first, second = tmp_path / "c.gcode", tmp_path / "first.json", tmp_path / "second.json"
    result = CliRunner().invoke(
        cli,
        [
            "draw",
            "cat",
            "--seed",
            4,
            "--gcode",
            gcode,
            "--quiet",
            "--port",
            f"sim://?profile=a4-servo&record={first}&error_at=40&error=20",
        ],
    )
    assert result.exit_code == 3
    resumed = run("stream", gcode, "--resume", "--quiet", "--port", f"sim://?profile=a4-servo&record={second}")
    assert resumed.exit_code == 0, resumed.output
    expected = pen_paths(read_gcode(gcode), load_profile("a4-servo"))
    drawn = read_record(first) + read_record(second)
    assert np.isclose(sum(_length(p) for p in drawn), sum(_length(p) for p in expected), rtol=1e-6)


def _length(path):
    return float(np.abs(np.diff(path[:, 0] + 1j * path[:, 1])).sum())


@pytest.mark.parametrize(
    "errno, text, message",
    [
        (13, "[Errno 13] could not open port /dev/ttyUSB0: [Errno 13] Permission denied", "permission denied"),
        (11, "Could not exclusively lock port /dev/ttyUSB0: [Errno 11] Resource temporarily unavailable", "port busy"),
    ],
)
def test_permission_denied_and_busy_port(monkeypatch, errno, text, message):
    def refuse(*args, **kwargs):
        raise serial.SerialException(errno, text)

    monkeypatch.setattr(serial, "serial_for_url", refuse)
    result = CliRunner().invoke(cli, ["draw", "cat", "--port", "/dev/ttyUSB0", "--yes"])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_real_port_asks_before_moving(monkeypatch):
    opened = []
    monkeypatch.setattr(serial, "serial_for_url", lambda *a, **k: opened.append(a))
    result = CliRunner().invoke(cli, ["draw", "cat", "--port", "/dev/ttyUSB0"], input="n\n")
    assert result.exit_code == 1 and "Move the plotter on /dev/ttyUSB0 now?" in result.output
    assert opened == []  # refused: the port was never opened


def test_record_json_format(tmp_path):
    record = tmp_path / "drawn.json"
    assert run("draw", "cat", "--seed", 1, "--quiet", "--port", f"sim://?record={record}").exit_code == 0
    data = json.loads(record.read_text())
    assert data["rx_overflows"] == 0 and all(len(point) == 2 for line in data["polylines"] for point in line)


def test_the_quality_gate_is_on_by_default(tmp_path):
    """`sample` and `draw` keep the most recognisable of BEST_OF candidates unless told not to."""
    from sketchplot.core.formats import read_sketch_file
    from sketchplot.model.config import BEST_OF

    assert BEST_OF > 1
    drawn = {}
    for name, extra in (("default", []), ("gated", ["--best-of", BEST_OF]), ("plain", ["--best-of", 1])):
        out = tmp_path / f"{name}.npz"
        assert run("sample", "dog", "-n", 3, "--seed", 5, "-o", out, *extra).exit_code == 0
        drawn[name] = read_sketch_file(out).sketches
    assert all(np.array_equal(a, b) for a, b in zip(drawn["default"], drawn["gated"], strict=True))
    assert not all(
        len(a) == len(b) and np.array_equal(a, b) for a, b in zip(drawn["default"], drawn["plain"], strict=True)
    )
    for name, extra in (("default", []), ("gated", ["--best-of", BEST_OF])):
        assert run("draw", "dog", "--seed", 5, "--gcode", tmp_path / f"{name}.gcode", *extra).exit_code == 0
    assert (tmp_path / "default.gcode").read_text() == (tmp_path / "gated.gcode").read_text()
