"""Out-of-range values and malformed files on the model and drawing commands: a one-line error
and a non-zero exit, never a traceback, and no output file from a failed job."""

import json
import os

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sketchplot.cli import cli
from sketchplot.model.config import ModelConfig
from sketchplot.model.files import ModelInfo, save_model
from sketchplot.model.net import SketchTransformer

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "dropout": 0.0, "block_size": 61, "n_mixture": 3}


def save_tiny(directory, classes, poison=None, **model):
    torch.manual_seed(0)
    cfg = ModelConfig(**TINY, **model)
    net = SketchTransformer(cfg).eval()
    if poison is not None:
        with torch.no_grad():
            poison(net)
    save_model(directory, net, ModelInfo(model=cfg, scale=20.0, classes=classes, max_seq_len=60))
    return directory


@pytest.fixture(autouse=True)
def models(tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCHPLOT_CONFIG_DIR", str(tmp_path / "config"))
    for variable in ("SKETCHPLOT_PORT", "SKETCHPLOT_MACHINE", "SKETCHPLOT_PAPER"):
        monkeypatch.delenv(variable, raising=False)
    models = tmp_path / "config" / "models"
    save_tiny(models / "tiny-owl", ["owl"])
    save_tiny(models / "tiny-vae", ["cat"], latent_size=8, encoder_layers=1)
    return models


@pytest.fixture
def cat_npz(tmp_path):
    rng = np.random.default_rng(5)
    test = np.empty(2, dtype=object)
    test[:] = [
        np.vstack([[[30, 30, 0]], np.column_stack([rng.integers(-20, 21, (12, 2)), np.eye(1, 12, 11)[0]])])
        for _ in range(2)
    ]
    np.savez(tmp_path / "cat.npz", train=test, valid=test, test=test)
    return tmp_path / "cat.npz"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_one_line(result, message, code=1):
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and message in errors[0], result.output


@pytest.mark.parametrize(
    "args",
    [
        ["sample", "owl", "--seed", "-1"],
        ["draw", "owl", "--seed", "-1", "--dry-run"],
        ["complete", "{cat}", "owl", "--seed", "-1", "--dry-run"],
        ["reconstruct", "{cat}", "--seed", "-1", "--dry-run"],
        ["interpolate", "{cat}", "{cat}:1", "--seed", "-1", "--dry-run"],
    ],
)
def test_a_negative_seed_is_a_usage_error(args, cat_npz):
    assert_one_line(run(*[a.format(cat=cat_npz) for a in args]), "-1 is not in the range x>=0", code=2)


def test_sample_count_is_bounded(tmp_path):
    assert_one_line(run("sample", "owl", "-n", "100000", "-o", tmp_path / "s.npz"), "1<=x<=10000", code=2)
    assert not (tmp_path / "s.npz").exists()


def test_a_model_with_nan_weights_writes_no_sketches(models, tmp_path):
    save_tiny(models / "nan-owl", ["nanowl"], poison=lambda net: net.head.bias.fill_(float("nan")))
    out = tmp_path / "s.npz"
    assert_one_line(run("sample", "nanowl", "-o", out, "--preview", tmp_path / "s.svg"), "holds NaN or infinite values")
    assert not out.exists() and not (tmp_path / "s.svg").exists()


def test_a_failed_npz_write_leaves_no_file(tmp_path, monkeypatch):
    real_savez = np.savez

    def half_savez(handle, **arrays):
        real_savez(handle, **arrays)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", half_savez)
    out = tmp_path / "s.npz"
    assert_one_line(run("sample", "owl", "-n", "2", "-o", out), "No space left on device")
    assert not out.exists() and not list(tmp_path.glob(".s.npz*"))


def test_draw_writes_no_gcode_when_the_write_fails(tmp_path, monkeypatch):
    def full(_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    gcode = tmp_path / "owl.gcode"
    assert_one_line(run("draw", "owl", "--dry-run", "--gcode", gcode), "No space left on device")
    assert not gcode.exists()


@pytest.mark.parametrize(
    "breakage, message",
    [
        (
            lambda d: (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:200]),
            "corrupted or unreadable weights",
        ),
        (lambda d: (d / "model.safetensors").write_bytes(b""), "corrupted or unreadable weights"),
        (lambda d: (d / "config.json").write_text(""), "unreadable model config"),
        (lambda d: (d / "config.json").write_text("[]"), "not a sketchplot model config"),
        (
            lambda d: (d / "config.json").write_text(json.dumps({"format": "sketchplot-model"})),
            "malformed model config (no 'model')",
        ),
    ],
)
def test_a_broken_model_directory_is_one_line(models, breakage, message):
    breakage(models / "tiny-owl")
    assert_one_line(run("draw", "owl", "--model", models / "tiny-owl", "--dry-run"), message)


@pytest.mark.parametrize("content", ["", "<svg xmlns='http://www.w3.org/2000/svg'/>", "not svg"])
def test_a_bad_svg_to_complete_is_one_line(tmp_path, content):
    path = tmp_path / "half.svg"
    path.write_text(content)
    result = run("complete", path, "owl", "--dry-run")
    assert_one_line(result, str(path))


@pytest.mark.parametrize("content", ["", "\n\n", '{"drawing": 5}\n', "[" * 50_000 + "\n"])
def test_a_bad_ndjson_to_reconstruct_is_one_line(tmp_path, content):
    path = tmp_path / "cat.ndjson"
    path.write_text(content)
    assert_one_line(run("reconstruct", path, "--dry-run"), str(path))


def test_train_resume_without_a_checkpoint_is_one_line(cat_npz, tmp_path):
    result = run("train", "cat", "--data", cat_npz, "--out", tmp_path / "run", "--resume")
    assert_one_line(result, "no checkpoint in")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "toml, message",
    [
        ("batch_size = 0", "batch_size must be an integer from 1"),
        ("learning_rate = nan", "learning_rate must be a number"),
        ("max_seq_len = 1000000", "max_seq_len must be an integer from 1 to 4096"),
        ("[model]\nn_layer = 1000000", "n_layer must be an integer from 1 to 64"),
        ("model = 3", "[model] must be a table"),
        ('device = "quantum"', "unknown device 'quantum'"),
    ],
)
def test_a_bad_training_config_is_one_line(cat_npz, tmp_path, toml, message):
    config = tmp_path / "bad.toml"
    config.write_text(toml + "\n")
    assert_one_line(run("train", "cat", "--data", cat_npz, "--config", config, "--out", tmp_path / "run"), message)


def test_an_oversized_training_config_is_refused_by_its_size(cat_npz, tmp_path):
    config = tmp_path / "big.toml"
    with open(config, "wb") as handle:
        handle.truncate(2**30)
    assert_one_line(run("train", "cat", "--data", cat_npz, "--config", config), "not a training config")


def test_models_lists_a_model_with_odd_metrics(models):
    config = json.loads((models / "tiny-owl" / "config.json").read_text())
    config["metrics"] = {"test_nll": {"owl": "good"}}
    (models / "tiny-owl" / "config.json").write_text(json.dumps(config))
    result = run("models")
    assert result.exit_code == 0, result.output
    assert "tiny-owl" in result.output


@pytest.mark.parametrize(
    "toml, message",
    [
        ("margin = nan", "margin must be a number of mm >= 0"),
        ("machine = 5", "machine must be a string"),
        ("paper = [1]", "paper must be a string"),
    ],
)
def test_a_bad_user_config_is_one_line(tmp_path, toml, message):
    (tmp_path / "config").mkdir(parents=True, exist_ok=True)
    (tmp_path / "config" / "config.toml").write_text(toml + "\n")
    assert_one_line(run("draw", "owl", "--dry-run"), message)


def test_an_oversized_user_config_is_refused_by_its_size(tmp_path):
    with open(tmp_path / "config" / "config.toml", "wb") as handle:
        handle.truncate(2**30)
    assert_one_line(run("draw", "owl", "--dry-run"), "too large for a config file")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--margin", "nan"], "must be finite and not negative"),
        (["--gutter", "nan", "--grid", "1x2"], "must be finite and not negative"),
        (["--simplify-tolerance", "nan"], "simplify_tolerance_mm must be finite"),
        (["--merge-tolerance", "inf"], "merge_tolerance_mm must be finite"),
    ],
)
def test_nan_layout_values_are_one_line(tmp_path, args, message):
    path = tmp_path / "one.ndjson"
    path.write_text(json.dumps({"drawing": [[[0, 10, 20], [0, 10, 0]]]}) + "\n")
    assert_one_line(run("plot", path, "--gcode", tmp_path / "x.gcode", *args), message)
    assert not (tmp_path / "x.gcode").exists()


def magenta_file(path, info, shapes=None):
    import base64

    units, mixtures = 4, 1
    real = [[units, 6 * mixtures + 3], [6 * mixtures + 3], [5, 4 * units], [units, 4 * units], [4 * units]]
    blobs = [base64.b64encode(np.zeros(int(np.prod(s)), "<i2").tobytes()).decode() for s in real]
    path.write_text(json.dumps([{"mode": 2, "name": "x", **info}, shapes or real, blobs]))
    return path


@pytest.mark.parametrize(
    "info, shapes, message",
    [
        ({"scale_factor": "abc"}, None, "scale_factor or max_seq_len is not a number"),
        ({"scale_factor": 1.0, "max_seq_len": "long"}, None, "scale_factor or max_seq_len is not a number"),
        ({"scale_factor": float("nan")}, None, "scale_factor must be finite and > 0"),
        ({"scale_factor": 1.0}, [["a"]] * 5, "weight shapes are not lists of positive integers"),
    ],
)
def test_a_bad_magenta_model_is_one_line(tmp_path, info, shapes, message):
    path = magenta_file(tmp_path / "x.gen.json", info, shapes)
    assert_one_line(run("sample", "x", "--model", path, "-n", "1"), message)
