"""The model commands end to end on tiny models and data."""

import json

import numpy as np
from click.testing import CliRunner
from model_helpers import TINY

from sketchplot.cli import cli
from sketchplot.model.files import load_model, save_model


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_train_then_sample_eval_and_list(tiny_npz, tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCHPLOT_CONFIG_DIR", str(tmp_path / "config"))
    config = tmp_path / "tiny.toml"
    model = "\n".join(f"{k} = {json.dumps(v)}" for k, v in TINY.items() if k != "block_size")
    config.write_text(
        f'batch_size = 8\nmax_seq_len = 40\nwarmup_steps = 2\neval_interval = 4\ndevice = "cpu"\n[model]\n{model}\n'
    )
    result = run("train", "blob", "--data", tiny_npz, "--config", config, "--out", tmp_path / "run", "--max-steps", 4)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "best" / "config.json").is_file()

    result = run(
        "sample",
        "blob",
        "-n",
        3,
        "--seed",
        1,
        "--model",
        tmp_path / "run" / "best",
        "-o",
        tmp_path / "out.npz",
        "--preview",
        tmp_path / "out.svg",
    )
    assert result.exit_code == 0, result.output
    sketches = np.load(tmp_path / "out.npz", allow_pickle=True)["sketches"]
    assert sketches.dtype == object and len(sketches) == 3
    assert all(s.dtype == np.float32 and s.shape[1:] == (3,) for s in sketches)
    assert (tmp_path / "out.svg").read_text().lstrip().startswith("<?xml")

    result = run("eval", tmp_path / "run" / "best", "--data", tiny_npz, "--split", "test")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert metrics["n_sketches"] == 6 and metrics["class"] == "blob" and np.isfinite(metrics["l_r"])

    save_model(tmp_path / "config" / "models" / "mine", *load_model(tmp_path / "run" / "best"))
    result = run("models")
    assert result.exit_code == 0 and "mine" in result.output and "blob" in result.output


def test_user_errors_are_one_line(tiny_npz, tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCHPLOT_CONFIG_DIR", str(tmp_path / "config"))
    result = run("train", "a", "b", "--data", tiny_npz)
    assert result.exit_code == 1 and "2 class(es) but 1 --data file(s)" in result.output
    result = run("sample", "cat", "--model", tmp_path / "missing")
    assert result.exit_code == 1 and result.output.startswith("Error: no model '")
    bad = tmp_path / "bad.gen.json"
    bad.write_text("[1, 2]")
    result = run("eval", bad, "--data", tiny_npz)
    assert result.exit_code == 1 and result.output.count("\n") == 1 and "not a sketch-rnn-js model" in result.output
