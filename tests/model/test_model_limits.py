"""Model files cost what a model costs: sizes checked before reading, configs validated, user
models read only when needed, non-finite weights and outputs refused in one line."""

import json
import time
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from sketchplot.cli import cli
from sketchplot.core.errors import SketchplotError
from sketchplot.model import files, registry
from sketchplot.model.decoders import TransformerDecoder
from sketchplot.model.files import ModelFileError, ModelInfo, load_decoder, read_info, save_model
from sketchplot.model.sample import sample


def info_for(net, classes=("cat", "dog")):
    return ModelInfo(model=net.cfg, scale=12.5, classes=list(classes), max_seq_len=40)


@pytest.fixture
def model_dir(tiny_net, tmp_path):
    return save_model(tmp_path / "m", tiny_net, info_for(tiny_net))


def edit_config(directory, **changes):
    config = json.loads((directory / "config.json").read_text())
    for key, value in changes.items():
        if key.startswith("model."):
            config["model"][key.removeprefix("model.")] = value
        else:
            config[key] = value
    (directory / "config.json").write_text(json.dumps(config))


def test_a_1_gib_config_is_refused_by_its_size_without_being_read(model_dir, monkeypatch):
    with open(model_dir / "config.json", "r+b") as handle:
        handle.truncate(2**30)  # sparse: costs no disk
    monkeypatch.setattr(type(model_dir), "read_bytes", lambda self: pytest.fail(f"read {self}"))
    with pytest.raises(ModelFileError, match=r"config.json is 1024.0 MiB, more than a model file holds") as caught:
        read_info(model_dir)
    assert "\n" not in str(caught.value)


def test_a_huge_zip_member_is_refused_by_its_size(model_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(files.MAX_MEMBER_BYTES, "model.safetensors", 1000)
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.write(model_dir / "config.json", "m/config.json")
        out.writestr("m/model.safetensors", b"\0" * 5000)
    with pytest.raises(ModelFileError, match="model.safetensors is 0.0 MiB, more than a model file holds"):
        load_decoder(archive)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("model.n_layer", 10**6, "n_layer must be an integer from 1 to 64, not 1000000"),
        ("model.n_embd", 33, r"n_embd \(33\) must be a multiple of n_head \(2\)"),
        ("model.n_head", 0, "n_head must be an integer from 1 to 64"),
        ("model.block_size", -5, "block_size must be an integer"),
        ("model.n_mixture", "3", "n_mixture must be an integer"),
        ("model.dropout", float("nan"), "dropout must be a finite number"),
        ("model.sigma_floor", -1.0, "sigma_floor must be a finite number >= 0"),
        ("model.sigma_activation", "relu", "sigma_activation must be one of elu, exp"),
        ("model.absolute_position", "yes", "absolute_position must be true or false"),
        ("scale", float("nan"), "scale must be a finite number > 0"),
        ("scale", 0, "scale must be a finite number > 0"),
        ("scale", "1e999", "scale must be a finite number > 0"),
        ("classes", [], "classes must be a non-empty list of names"),
        ("classes", ["cat"], "n_classes is 2 but only 1 class name"),
        ("max_seq_len", 10**6, "max_seq_len must be from 1 to block_size - 1"),
    ],
)
def test_a_bad_model_config_names_the_field_and_the_file(model_dir, field, value, message):
    edit_config(model_dir, **{field: value})
    started = time.perf_counter()
    with pytest.raises(ModelFileError, match=message) as caught:
        load_decoder(model_dir)
    assert str(model_dir) in str(caught.value) and "\n" not in str(caught.value)
    assert time.perf_counter() - started < 1.0


def test_nan_weights_are_a_corrupted_model(tiny_net, tmp_path):
    import torch

    with torch.no_grad():
        tiny_net.head.bias[0] = float("nan")
    save_model(tmp_path / "m", tiny_net, info_for(tiny_net))
    with pytest.raises(ModelFileError, match="weight head.bias holds NaN or infinite values"):
        load_decoder(tmp_path / "m")


def weights_of(net):
    return {k: v.numpy().copy() for k, v in net.state_dict().items()}


@pytest.mark.parametrize(
    "poison",
    [
        lambda w: w["head.bias"].__setitem__(slice(None), np.nan),  # NaN everywhere
        lambda w: w["head.bias"].__setitem__(slice(3, 9), 3e38),  # finite weights, offsets overflow
        lambda w: w["head.bias"].__setitem__(slice(18, 21), np.nan),  # the pen logits alone
    ],
)
def test_sampling_a_model_with_non_finite_output_raises_instead_of_writing_nan(tiny_net, poison):
    weights = weights_of(tiny_net)
    poison(weights)
    decoder = TransformerDecoder(tiny_net.cfg, weights)
    with pytest.raises(SketchplotError, match="weights are corrupted"):
        sample(decoder, 3, scale=10.0, seed=0, max_len=30)


def test_sampling_memory_does_not_grow_with_the_number_of_sketches(tiny_decoder, monkeypatch):
    from sketchplot.model import sample as sample_module

    per_sketch = tiny_decoder.new_cache(1).kv.nbytes
    monkeypatch.setattr(sample_module, "CACHE_BUDGET_BYTES", 40 * per_sketch, raising=False)
    sizes, real_new_cache = [], tiny_decoder.new_cache
    monkeypatch.setattr(tiny_decoder, "new_cache", lambda batch: sizes.append(batch) or real_new_cache(batch))
    drawn = sample(tiny_decoder, 100, scale=1.0, seed=0, max_len=10)
    assert len(drawn) == 100 and max(sizes) == 40 and sum(sizes) == 100
    assert tiny_decoder.cache_bytes_per_sequence == per_sketch


def test_batched_sampling_is_reproducible_and_batches_differ(tiny_decoder, monkeypatch):
    from sketchplot.model import sample as sample_module

    monkeypatch.setattr(sample_module, "CACHE_BUDGET_BYTES", 2 * tiny_decoder.new_cache(1).kv.nbytes)
    first, again = (sample(tiny_decoder, 6, scale=1.0, seed=5, max_len=12) for _ in range(2))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], first[2])  # the second batch continues the stream, it does not restart it


@pytest.fixture
def user_models(tmp_path, monkeypatch, tiny_net):
    monkeypatch.setenv("SKETCHPLOT_CONFIG_DIR", str(tmp_path / "config"))
    models = tmp_path / "config" / "models"
    save_model(models / "pets", tiny_net, info_for(tiny_net))
    (models / "huge").mkdir()
    with open(models / "huge" / "config.json", "wb") as handle:
        handle.truncate(2**30)
    return models


def test_listing_models_reads_no_config_until_one_is_asked_for(user_models, monkeypatch):
    reads = []
    real_read_info = registry.read_info
    monkeypatch.setattr(registry, "read_info", lambda path: reads.append(path) or real_read_info(path))
    entries = {e.name: e for e in registry.available_models()}
    assert {"pets", "huge", "quickdraw345"} <= set(entries) and reads == []
    assert registry.find_model("quickdraw345") == entries["quickdraw345"].path and reads == []
    assert entries["huge"].info is None and "1024.0 MiB" in entries["huge"].error
    assert reads == [user_models / "huge"]


def test_a_broken_user_model_does_not_break_other_commands(user_models, tmp_path):
    runner = CliRunner()
    listed = runner.invoke(cli, ["models"])
    assert listed.exit_code == 0
    assert next(line for line in listed.output.splitlines() if line.startswith("huge")).count("UNREADABLE") == 1
    drawn = runner.invoke(cli, ["sample", "cat", "-n", "2", "--seed", "1", "-o", str(tmp_path / "s.npz")])
    assert drawn.exit_code == 0, drawn.output
    by_name = runner.invoke(cli, ["sample", "dog", "-n", "1", "--model", "pets"])
    assert by_name.exit_code == 0, by_name.output


def test_explicit_broken_model_is_one_line(user_models):
    result = CliRunner().invoke(cli, ["sample", "cat", "--model", "huge"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.output.count("\n") == 1 and "config.json is 1024.0 MiB" in result.output


def test_a_failed_model_save_keeps_the_previous_model(tiny_net, model_dir, monkeypatch):
    import os

    before = {p.name: p.read_bytes() for p in model_dir.iterdir()}

    def full(_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError):
        save_model(model_dir, tiny_net, info_for(tiny_net, ("owl", "bat")), half=True)
    assert {p.name: p.read_bytes() for p in model_dir.iterdir()} == before
