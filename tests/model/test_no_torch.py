"""Inference commands never import torch: its import alone costs over a second of `draw`."""

import json
import os
import subprocess
import sys

import numpy as np
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


@pytest.mark.parametrize(
    "command",
    [
        ["draw", "cat", "--dry-run", "--seed", "1", "--gcode", "{tmp}/x.gcode"],
        ["sample", "cat", "-n", "3", "--seed", "1", "-o", "{tmp}/x.npz", "--preview", "{tmp}/x.svg"],
    ],
)
def test_inference_commands_do_not_import_torch(command, model_dir, tmp_path):
    args = [a.format(tmp=tmp_path) for a in command] + ["--model", str(model_dir)]
    env = {**os.environ, "SKETCHPLOT_CONFIG_DIR": str(tmp_path / "config"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", RUN_CLI, *args], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["exit"] in (0, None), done.stdout + done.stderr
    assert report["torch"] == [] and not report["net"]
    assert any(tmp_path.glob("x.*"))


NO_TORCH = """
import json, sys
sys.modules["torch"] = None  # as on a machine without torch: `import torch` raises ImportError
from sketchplot.cli import cli
try:
    cli(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"exit": code}))
"""


def run_without_torch(args, tmp_path):
    env = {**os.environ, "SKETCHPLOT_CONFIG_DIR": str(tmp_path / "config"), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", NO_TORCH, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )


@pytest.fixture
def vae_dir(tmp_path):
    net, _ = random_pair(n_classes=1, latent_size=4, encoder_layers=1)
    info = ModelInfo(model=net.cfg, scale=10.0, classes=["cat"], max_seq_len=40)
    return save_model(tmp_path / "cat-vae", net, info, half=True)


@pytest.fixture
def cat_file(tmp_path):
    from model_helpers import write_npz

    return write_npz(tmp_path / "cat.npz", np.random.default_rng(2), counts=(4, 3, 3), lengths=(6, 12))


@pytest.mark.slow
def test_every_inference_command_runs_without_torch(model_dir, vae_dir, cat_file, tmp_path):
    from model_helpers import write_tiny_classifier

    classifier = write_tiny_classifier(tmp_path / "classifier", classes=("cat", "dog"))
    commands = [
        ["draw", "cat", "--model", model_dir, "--dry-run", "--gcode", tmp_path / "d.gcode"],
        ["sample", "cat", "--model", model_dir, "-n", 3, "-o", tmp_path / "s.npz"],
        ["eval", model_dir, "--data", cat_file, "--limit", 2],
        ["score", tmp_path / "s.npz", "--class", "cat", "--classifier", classifier],
        ["reconstruct", f"{cat_file}:0", "--model", vae_dir, "-n", 2, "--dry-run"],
        ["interpolate", f"{cat_file}:0", f"{cat_file}:1", "--model", vae_dir, "--steps", 3, "--dry-run"],
        ["analogy", f"{cat_file}:0", f"{cat_file}:1", f"{cat_file}:2", "--model", vae_dir, "-n", 1, "--dry-run"],
        ["complete", f"{cat_file}:0", "cat", "--model", model_dir, "-n", 1, "--dry-run"],
    ]
    for command in commands:
        done = run_without_torch(command, tmp_path)
        assert json.loads(done.stdout.strip().splitlines()[-1])["exit"] in (0, None), (command, done.stderr)


def test_train_without_torch_says_so_in_one_line(cat_file, tmp_path):
    done = run_without_torch(["train", "cat", "--data", cat_file, "--out", tmp_path / "run"], tmp_path)
    assert json.loads(done.stdout.strip().splitlines()[-1])["exit"] == 1
    assert done.stderr.strip() == "Error: training needs torch, which is not installed: pip install 'sketchplot[train]'"


@pytest.mark.slow
def test_the_vpype_plugin_runs_without_torch(model_dir, tmp_path):
    script = "import sys\nsys.modules['torch'] = None\nfrom vpype_cli.cli import cli\nsys.exit(cli(sys.argv[1:]))"
    env = {**os.environ, "SKETCHPLOT_CONFIG_DIR": str(tmp_path / "config"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            "sketchplot",
            "--model",
            str(model_dir),
            "-n",
            "2",
            "cat",
            "write",
            str(tmp_path / "v.svg"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "v.svg").read_text().startswith("<?xml")
