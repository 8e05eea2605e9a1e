"""User defaults (config file, environment) reach every command that needs a machine or port."""

import pytest
from click.testing import CliRunner

from sketchplot.cli import cli
from sketchplot.core.errors import SketchplotError
from sketchplot.core.settings import load_defaults


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCHPLOT_CONFIG_DIR", str(tmp_path))
    for variable in ("SKETCHPLOT_PORT", "SKETCHPLOT_MACHINE", "SKETCHPLOT_PAPER"):
        monkeypatch.delenv(variable, raising=False)
    return tmp_path


def test_environment_overrides_the_config_file(config_dir, monkeypatch):
    (config_dir / "config.toml").write_text('machine = "a3-servo"\nport = "/dev/ttyACM0"\n')
    assert (load_defaults().machine, load_defaults().port) == ("a3-servo", "/dev/ttyACM0")
    monkeypatch.setenv("SKETCHPLOT_MACHINE", "a4-zaxis")
    assert load_defaults().machine == "a4-zaxis" and load_defaults().port == "/dev/ttyACM0"


def test_bad_config_file_is_a_one_line_error(config_dir):
    (config_dir / "config.toml").write_text("colour = 'red'\n")
    with pytest.raises(SketchplotError, match="unknown settings: colour"):
        load_defaults()
    (config_dir / "config.toml").write_text("machine = \n")
    with pytest.raises(SketchplotError, match="cannot read config file"):
        load_defaults()


def test_stream_and_estimate_use_the_default_machine_and_port(config_dir, tmp_path, monkeypatch):
    gcode = tmp_path / "line.gcode"
    gcode.write_text("G21 G90\nG0 Z3\nG0 X10 Y10\nG1 Z0 F600\nG1 X250 Y10 F2000\nG0 Z3\n")
    monkeypatch.setenv("SKETCHPLOT_MACHINE", "a4-zaxis")
    estimate = CliRunner().invoke(cli, ["estimate", str(gcode)])
    assert estimate.exit_code == 0 and "pen down 240 mm" in estimate.output
    no_port = CliRunner().invoke(cli, ["stream", str(gcode), "--quiet"])
    assert no_port.exit_code == 2 and "no port" in no_port.output
    record = tmp_path / "drawn.json"
    monkeypatch.setenv("SKETCHPLOT_PORT", f"sim://?profile=a4-zaxis&record={record}")
    streamed = CliRunner().invoke(cli, ["stream", str(gcode), "--quiet"])
    assert streamed.exit_code == 0, streamed.output
    assert record.exists()
