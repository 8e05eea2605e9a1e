"""Model files round-trip, broken files fail in one line, the registry finds models by class."""

import json

import numpy as np
import pytest
import torch

from sketchplot.core.errors import SketchplotError
from sketchplot.core.formats import class_key
from sketchplot.model import registry
from sketchplot.model.decoders import TransformerDecoder
from sketchplot.model.files import ModelFileError, ModelInfo, load_decoder, load_model, save_model
from sketchplot.model.registry import load_any


def info_for(net, classes=("cat", "dog")):
    return ModelInfo(
        model=net.cfg,
        scale=12.5,
        classes=list(classes),
        max_seq_len=40,
        data={"licence": "test"},
        metrics={"test_nll": 1.25},
    )


@pytest.mark.parametrize("half", [False, True])
@torch.no_grad()
def test_round_trip_keeps_outputs_and_info(tiny_net, tmp_path, half):
    save_model(tmp_path / "m", tiny_net, info_for(tiny_net), half=half)
    net, info = load_model(tmp_path / "m")
    decoder, decoder_info = load_decoder(tmp_path / "m")
    assert info == decoder_info
    assert info.classes == ["cat", "dog"] and info.scale == 12.5 and info.metrics["test_nll"] == 1.25
    x = torch.randn(2, 7, 5)
    a = tiny_net(x, torch.tensor([0, 1]))
    b = net(x, torch.tensor([0, 1]))
    torch.testing.assert_close(a.mu_x, b.mu_x, atol=1e-2 if half else 0, rtol=1e-2 if half else 0)
    c = decoder.forward(x.numpy(), np.array([0, 1]))
    np.testing.assert_allclose(c.mu_x, b.mu_x.numpy(), atol=1e-5, rtol=1e-5)  # same weights, float32


@pytest.mark.parametrize(
    "breakage, message",
    [
        (
            lambda d: (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:100]),
            "corrupted or unreadable weights",
        ),
        (lambda d: (d / "config.json").write_text("{"), "unreadable model config"),
        (lambda d: (d / "config.json").write_text(json.dumps({"format": "keras"})), "not a sketchplot model config"),
        (lambda d: (d / "config.json").unlink(), "no config.json"),
    ],
)
def test_broken_model_fails_in_one_line(tiny_net, tmp_path, breakage, message):
    save_model(tmp_path / "m", tiny_net, info_for(tiny_net))
    breakage(tmp_path / "m")
    with pytest.raises(ModelFileError, match=message) as caught:
        load_decoder(tmp_path / "m")
    assert "\n" not in str(caught.value)


def test_a_zip_archive_of_a_model_directory_loads_and_lists(tiny_net, tmp_path, monkeypatch):
    import shutil
    import zipfile

    from sketchplot.model.registry import available_models

    save_model(tmp_path / "m", tiny_net, info_for(tiny_net))
    monkeypatch.setenv("SKETCHPLOT_CONFIG_DIR", str(tmp_path / "config"))
    (tmp_path / "config" / "models").mkdir(parents=True)
    archive = shutil.make_archive(str(tmp_path / "config" / "models" / "mine"), "zip", tmp_path, "m")
    decoder, info = load_any(archive)
    x = np.random.default_rng(0).normal(size=(1, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(
        decoder.forward(x, np.array([1])).mu_x, load_decoder(tmp_path / "m")[0].forward(x, np.array([1])).mu_x
    )
    assert [(e.name, e.origin) for e in available_models() if e.origin == "user"] == [("mine", "user")]
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as empty:
        empty.writestr("readme.txt", "no model here")
    with pytest.raises(ModelFileError, match="no config.json in the archive"):
        load_any(tmp_path / "empty.zip")


def test_weights_of_another_architecture_fail_cleanly(tiny_net, tmp_path):
    save_model(tmp_path / "m", tiny_net, info_for(tiny_net))
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["model"]["n_embd"] = 64
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    for load in (load_decoder, load_model):
        with pytest.raises(ModelFileError, match="weights do not match the config"):
            load(tmp_path / "m")


@pytest.fixture
def user_models(tmp_path, monkeypatch, tiny_net):
    monkeypatch.setenv("SKETCHPLOT_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setattr(registry, "shipped_model_dir", lambda: tmp_path / "shipped")
    save_model(tmp_path / "config" / "models" / "pets", tiny_net, info_for(tiny_net))
    save_model(tmp_path / "shipped" / "farm", tiny_net, info_for(tiny_net, ("cat", "sheep")))
    (tmp_path / "config" / "models" / "broken").mkdir()
    (tmp_path / "config" / "models" / "broken" / "config.json").write_text("nope")
    return tmp_path


def test_resolve_prefers_user_models_and_picks_the_class_index(user_models):
    decoder, info, index = registry.resolve("dog")
    assert isinstance(decoder, TransformerDecoder)
    assert info.classes == ["cat", "dog"] and index == 1
    _, info, index = registry.resolve("cat")
    assert info.classes == ["cat", "dog"] and index == 0  # user model wins over shipped
    _, info, index = registry.resolve("sheep")
    assert info.classes == ["cat", "sheep"] and index == 1


def test_unknown_class_names_the_closest_match(user_models):
    with pytest.raises(SketchplotError, match=r"no model draws 'shep'.*cat, dog, sheep.*did you mean 'sheep'"):
        registry.resolve("shep")


def test_explicit_model_path_must_draw_the_class(user_models):
    _, _, index = registry.resolve("cat", user_models / "shipped" / "farm")
    assert index == 0
    _, _, index = registry.resolve("sheep", "farm")  # an installed model by name
    assert index == 1
    with pytest.raises(SketchplotError, match="does not draw 'dgo'.*did you mean 'dog'"):
        registry.resolve("dgo", user_models / "config" / "models" / "pets")
    with pytest.raises(ModelFileError, match="no model 'nowhere'"):
        registry.resolve("cat", "nowhere")


def test_listing_shows_broken_models_instead_of_failing(user_models):
    entries = {e.name: e for e in registry.available_models()}
    assert set(entries) == {"pets", "farm", "broken"}
    assert entries["broken"].error and entries["pets"].origin == "user" and entries["farm"].origin == "shipped"


def test_class_names_match_whatever_their_case_spaces_or_underscores(user_models, tiny_net):
    save_model(
        user_models / "shipped" / "landmarks", tiny_net, info_for(tiny_net, ("The Eiffel Tower", "aircraft carrier"))
    )
    spellings = ["the_eiffel_tower", "THE EIFFEL  TOWER", "eiffel tower", "Eiffel_Tower"]
    for spelling, wanted in [(s, 0) for s in spellings] + [("Aircraft_Carrier", 1)]:
        _, info, index = registry.resolve(spelling)
        assert info.classes == ["The Eiffel Tower", "aircraft carrier"] and index == wanted


def test_an_unknown_name_suggests_the_closest_classes(user_models):
    from model_helpers import TINY

    from sketchplot.model.config import ModelConfig
    from sketchplot.model.net import SketchTransformer

    many = tuple(f"class {i}" for i in range(20)) + ("The Eiffel Tower",)
    net = SketchTransformer(ModelConfig(**TINY, n_classes=len(many)))
    save_model(user_models / "shipped" / "many", net, info_for(net, many))
    with pytest.raises(SketchplotError, match=r"24 classes, see `sketchplot classes`.*did you mean 'The Eiffel Tower'"):
        registry.resolve("eifel tower")
    with pytest.raises(SketchplotError, match="did you mean 'The Eiffel Tower'"):
        registry.resolve("tower")


def test_classes_lists_every_class_with_the_model_that_draws_it(user_models):
    from click.testing import CliRunner

    from sketchplot.cli import cli

    result = CliRunner().invoke(cli, ["classes"])
    assert result.exit_code == 0
    rows = dict(line.split() for line in result.output.splitlines())
    assert rows == {"cat": "pets", "dog": "pets", "sheep": "farm"}  # the user's model wins for cat
    every = CliRunner().invoke(cli, ["classes", "--all"])
    assert every.exit_code == 0
    listed = [line.rsplit(maxsplit=1) for line in every.output.splitlines()]
    assert len(listed) == 345 and dict(listed)["cat"] == "pets" and dict(listed)["The Eiffel Tower"] == "-"
    names = [name for name, _ in listed]  # in the order names compare: "The Eiffel Tower" among the e's
    assert names == sorted(names, key=class_key) and names.index("ear") < names.index("The Eiffel Tower") < names.index(
        "elbow"
    )
    assert dict(listed)["aircraft carrier"] == "-"  # shown as the data's file names read, with spaces


def test_the_best_measured_shipped_model_draws_a_class(user_models, tiny_net):
    shipped = user_models / "shipped"
    for name, measured in [("farm-a", {"sheep": 0.2}), ("farm-b", {"Sheep": 0.6}), ("farm-c", None)]:
        info = info_for(tiny_net, ("cat", "sheep"))
        if measured:
            info.metrics = {"recognizability": measured}
        save_model(shipped / name, tiny_net, info)
    assert registry.locate("sheep").name == "farm-b"  # measured best, whatever the listing order
    assert registry.locate("cat").name == "pets"  # the user's own model still comes first
    assert registry.class_table()["sheep"] == "farm-b"


def test_the_figure_with_the_quality_gate_ranks_before_the_one_without(user_models, tiny_net):
    shipped = user_models / "shipped"
    figures = {
        "farm-a": {"recognizability": {"sheep": 0.3}, "recognizability_gated": {"sheep": 0.5}},
        "farm-b": {"recognizability": {"sheep": 0.2}, "recognizability_gated": {"sheep": 0.7}},  # draws better
        "farm-c": {"recognizability": {"sheep": 0.9}},  # never measured with the gate
    }
    for name, metrics in figures.items():
        info = info_for(tiny_net, ("cat", "sheep"))
        info.metrics = metrics
        save_model(shipped / name, tiny_net, info)
    assert registry.locate("sheep").name == "farm-b"
