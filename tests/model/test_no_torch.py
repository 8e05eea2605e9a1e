"""Inference commands never import torch: its import alone costs over a second of `draw`."""

import json
import os
import subprocess
import sys

import pytest
from model_helpers import random_pair

from sketchplot.model.files import ModelInfo, save_model

RUN_CLI = """
import json, sys
from sketchplot.cli import cli
try:
    cli(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"exit": code, "torch": sorted(m for m in sys.modules if m.split(".")[0] == "torch"),
                  "net": "sketchplot.model.net" in sys.modules}))
"""


@pytest.fixture
def model_dir(tmp_path):
    net, _ = random_pair(n_classes=1)
    info = ModelInfo(model=net.cfg, scale=10.0, classes=["cat"], max_seq_len=40)
    return save_model(tmp_path / "cat-model", net, info, half=True)


@pytest.mark.parametrize("command", [
    ["draw", "cat", "--dry-run", "--seed", "1", "--gcode", "{tmp}/x.gcode"],
    ["sample", "cat", "-n", "3", "--seed", "1", "-o", "{tmp}/x.npz", "--preview", "{tmp}/x.svg"],
])
def test_inference_commands_do_not_import_torch(command, model_dir, tmp_path):
    args = [a.format(tmp=tmp_path) for a in command] + ["--model", str(model_dir)]
    env = {**os.environ, "SKETCHPLOT_CONFIG_DIR": str(tmp_path / "config"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", RUN_CLI, *args], capture_output=True, text=True,
                          timeout=60, env=env, cwd=tmp_path)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["exit"] in (0, None), done.stdout + done.stderr
    assert report["torch"] == [] and not report["net"]
    assert any(tmp_path.glob("x.*"))
