"""Latent-space tools, completion keeping its prefix, conditional models in the registry, and
training options of conditional models (init_from, unlabelled classes, BN-VAE statistics)."""

import json

import numpy as np
import pytest
import torch
from model_helpers import TINY, random_pair, write_npz

from sketchplot.core.errors import SketchplotError
from sketchplot.core.formats import drawing_to_sketch
from sketchplot.model.config import ModelConfig
from sketchplot.model.decoders import TransformerEncoder
from sketchplot.model.files import ModelInfo, load_decoder, load_encoder, read_weights, save_model
from sketchplot.model.latent import analogy, encode, interpolate, slerp
from sketchplot.model.net import SketchTransformer
from sketchplot.model.registry import class_index, locate, resolve_conditional
from sketchplot.model.sample import sample
from sketchplot.model.train import TrainConfig, train

VAE = dict(latent_size=6, encoder_layers=1)


def test_slerp_keeps_the_norm_between_codes_of_equal_norm_and_ends_at_them():
    rng = np.random.default_rng(0)
    z0, z1 = rng.normal(size=16), rng.normal(size=16)
    z1 *= np.linalg.norm(z0) / np.linalg.norm(z1)
    path = interpolate(z0, z1, 7)
    np.testing.assert_allclose(path[0], z0, atol=1e-5)
    np.testing.assert_allclose(path[-1], z1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(z0), rtol=1e-5)
    angles = [np.arccos(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b)) for a, b in zip(path, path[1:])]
    np.testing.assert_allclose(angles, angles[0], rtol=1e-4)  # evenly spaced in angle
    # parallel codes: a straight line, no division by sin(0)
    np.testing.assert_allclose(slerp(z0, 2 * z0, 0.5), 1.5 * z0, rtol=1e-5)
    with pytest.raises(SketchplotError, match="at least 2 steps"):
        interpolate(z0, z1, 1)


def test_analogy_is_a_minus_b_plus_c():
    a, b, c = np.ones(4), np.arange(4.0), np.full(4, 2.0)
    np.testing.assert_allclose(analogy(a, b, c), [3, 2, 1, 0])


def test_drawing_to_sketch_scales_the_longest_side_to_255_and_starts_at_the_origin():
    drawing = [np.array([0, 10 + 0j, 10 + 5j]), np.array([20 + 0j, 20 + 4j])]  # 20 x 5 units
    sketch = drawing_to_sketch(drawing)
    points = np.cumsum(sketch[:, :2], axis=0)
    assert np.ptp(np.concatenate([[0.0], points[:, 0]])) == pytest.approx(255.0)
    assert sketch[:, 2].tolist() == [0, 1, 0, 1]  # the origin is the first stroke's first point


@pytest.mark.parametrize("conditional", [False, True])
def test_completion_keeps_the_given_prefix_exactly(conditional):
    _, decoder = random_pair(**(VAE if conditional else {}))
    prefix = np.array([[3.5, -1.25, 0], [2, 2, 1], [-7.75, 0.5, 0], [1, 1, 0]], dtype=np.float32)
    z = np.ones(VAE["latent_size"], np.float32) if conditional else None
    drawn = sample(decoder, 5, scale=3.0, temperature=0.7, seed=2, max_len=30, prefix=prefix, z=z)
    assert any(len(sketch) > len(prefix) for sketch in drawn)
    for sketch in drawn:
        np.testing.assert_array_equal(sketch[: len(prefix)], prefix)


def test_a_conditional_model_samples_from_the_prior_without_a_code():
    _, decoder = random_pair(**VAE)
    first = sample(decoder, 3, scale=1.0, seed=4, max_len=20)
    again = sample(decoder, 3, scale=1.0, seed=4, max_len=20)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    with_code = sample(decoder, 3, scale=1.0, seed=4, max_len=20, z=np.zeros((3, VAE["latent_size"])))
    assert any(len(a) != len(b) or not np.allclose(a, b) for a, b in zip(first, with_code))


def test_numpy_encoder_uses_the_running_statistics_of_the_mu_norm():
    net, _ = random_pair(mu_norm_scale=0.6, **VAE)
    with torch.no_grad():
        net.encoder.mu_norm.running_mean.normal_(0, 0.5)
        net.encoder.mu_norm.running_var.uniform_(0.2, 3.0)
    encoder = TransformerEncoder(net.cfg, {k: v.numpy() for k, v in net.state_dict().items()})
    strokes = np.zeros((2, 5, 5), np.float32)
    strokes[..., :2] = np.random.default_rng(1).normal(size=(2, 5, 2))
    strokes[..., 2] = 1
    mask = np.ones((2, 5), np.float32)
    with torch.no_grad():
        mu, _ = net.eval().encode(torch.from_numpy(strokes), torch.from_numpy(mask))
    np.testing.assert_allclose(encoder.encode(strokes, mask)[0], mu.numpy(), atol=1e-5)
    # in training the batch's own statistics give every batch the same spread
    net.train()
    mu, _ = net.encode(torch.from_numpy(np.concatenate([strokes, -strokes])), torch.ones(4, 5))
    assert mu.std(0, unbiased=False).detach().numpy() == pytest.approx(0.6, rel=0.02)  # eps 1e-5 aside


def test_encode_refuses_a_sketch_longer_than_the_model_reads():
    net, _ = random_pair(**VAE)
    encoder = TransformerEncoder(net.cfg, {k: v.numpy() for k, v in net.state_dict().items()})
    too_long = np.tile([[1.0, 0.0, 0.0]], (TINY["block_size"], 1))
    with pytest.raises(SketchplotError, match=f"{TINY['block_size']} points; the model reads 1 to 40"):
        encode(encoder, [too_long], 1.0, where="my.svg")


def _save(directory, cfg, classes):
    torch.manual_seed(0)
    net = SketchTransformer(cfg)
    save_model(directory, net, ModelInfo(model=cfg, scale=10.0, classes=classes, max_seq_len=40))
    return net


def test_registry_picks_the_conditional_model_that_knows_the_inputs(tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCHPLOT_CONFIG_DIR", str(tmp_path))
    models = tmp_path / "models"
    _save(models / "a-plain", ModelConfig(**TINY, n_classes=2), ["cat", "pig"])
    _save(models / "b-cat-vae", ModelConfig(**TINY, **VAE), ["cat"])
    _save(models / "c-catpig-vae", ModelConfig(**TINY, **VAE, n_classes=1), ["cat", "pig"])  # unlabelled
    assert resolve_conditional(None, ["cat", "pig"])[2].classes == ["cat", "pig"]
    assert resolve_conditional(None, ["cat", "my_drawing"])[2].classes == ["cat"]
    assert resolve_conditional(None, ["owl"])[2].classes == ["cat"]  # unknown hints: the user's, fewest classes
    _save(models / "d-dog-cat-vae", ModelConfig(**TINY, **VAE, n_classes=2), ["dog", "cat"])
    _save(models / "e-dog-vae", ModelConfig(**TINY, **VAE), ["dog"])
    assert resolve_conditional(None, ["dog"])[2].classes == ["dog"]  # the most specialised
    assert resolve_conditional(None, ["dog", "cat"])[2].classes == ["dog", "cat"]
    _save(models / "f-farm-vae", ModelConfig(**TINY, **VAE, n_classes=2), ["sheep", "dog"])
    assert resolve_conditional(None, ["sheep"])[2].classes == ["sheep", "dog"]  # the user's own, before sheep-vae
    with pytest.raises(SketchplotError, match="a-plain is not a conditional model"):
        resolve_conditional("a-plain")
    # drawing one class: unconditional models first; an unlabelled model never serves `draw pig`
    assert locate("cat").name == "a-plain"
    info = load_decoder(models / "c-catpig-vae")[1]
    assert class_index(info, "pig", "c") == 0 and class_index(info, None, "c") == 0


def test_init_from_copies_matching_weights_and_class_rows_by_name(tmp_path):
    source = _save(tmp_path / "source", ModelConfig(**TINY, n_classes=2), ["dog", "cat"])
    npz = write_npz(tmp_path / "cat.npz", np.random.default_rng(0))
    cfg = TrainConfig.from_dict(
        {
            "batch_size": 4,
            "max_steps": 1,
            "learning_rate": 1e-9,
            "min_learning_rate": 1e-9,
            "max_seq_len": 40,
            "device": "cpu",
            "save_half": False,
            "init_from": str(tmp_path / "source"),
            "eval_interval": 1,
            "model": {**TINY, **VAE},
        }
    )
    train(["cat"], [npz], tmp_path / "run", cfg, progress=False)
    weights = read_weights(tmp_path / "run" / "best", load_decoder(tmp_path / "run" / "best")[1].model)
    old = {k: v.numpy() for k, v in source.state_dict().items()}
    np.testing.assert_allclose(weights["class_embed.weight"][0], old["class_embed.weight"][1], atol=1e-6)
    np.testing.assert_allclose(weights["blocks.0.attn.qkv.weight"], old["blocks.0.attn.qkv.weight"], atol=1e-5)
    assert np.abs(weights["latent_embed.weight"]).max() < 1e-6  # new input: starts with no effect


def test_unlabelled_training_keeps_class_names_with_one_class_index(tmp_path):
    paths = [write_npz(tmp_path / f"{name}.npz", np.random.default_rng(i)) for i, name in enumerate(("cat", "pig"))]
    cfg = TrainConfig.from_dict(
        {
            "batch_size": 4,
            "max_steps": 2,
            "max_seq_len": 40,
            "device": "cpu",
            "class_labels": False,
            "eval_interval": 2,
            "model": {**TINY, **VAE},
        }
    )
    train(["cat", "pig"], paths, tmp_path / "run", cfg, progress=False)
    decoder, info = load_decoder(tmp_path / "run" / "best")
    assert info.classes == ["cat", "pig"] and info.model.n_classes == 1
    assert load_encoder(tmp_path / "run" / "best").cfg.latent_size == VAE["latent_size"]
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert "l_kl" in log[-1]["valid"]


def test_bad_model_settings_are_one_line_errors():
    with pytest.raises(SketchplotError, match="pen_head must be"):
        TrainConfig.from_dict({"model": {"pen_head": "shared"}})
    with pytest.raises(SketchplotError, match="joint pen head trains with pen_loss 'ce' only"):
        TrainConfig.from_dict({"model": {"pen_head": "joint", "pen_loss": "focal"}})


def test_numpy_kl_is_the_training_kl_per_sketch():
    from sketchplot.model.mixture import kl_divergence

    rng = np.random.default_rng(3)
    mu, sigma_hat = rng.normal(size=(4, 8)).astype(np.float32), rng.normal(size=(4, 8)).astype(np.float32)
    per_sketch = kl_divergence(mu, sigma_hat)
    assert per_sketch.shape == (4,)
    on_torch = kl_divergence(torch.from_numpy(mu), torch.from_numpy(sigma_hat))
    assert per_sketch.mean() == pytest.approx(on_torch.mean().item(), rel=1e-5)
    np.testing.assert_allclose(per_sketch, on_torch.numpy(), rtol=1e-5)


def test_init_from_an_unlabelled_model_into_an_unlabelled_model(tmp_path):
    source = _save(tmp_path / "source", ModelConfig(**TINY, **VAE, n_classes=1), ["cat", "pig"])
    paths = [write_npz(tmp_path / f"{name}.npz", np.random.default_rng(i)) for i, name in enumerate(("cat", "pig"))]
    cfg = TrainConfig.from_dict(
        {
            "batch_size": 4,
            "max_steps": 1,
            "learning_rate": 1e-9,
            "min_learning_rate": 1e-9,
            "max_seq_len": 40,
            "device": "cpu",
            "save_half": False,
            "class_labels": False,
            "init_from": str(tmp_path / "source"),
            "eval_interval": 1,
            "model": {**TINY, **VAE},
        }
    )
    train(["cat", "pig"], paths, tmp_path / "run", cfg, progress=False)
    weights = read_weights(tmp_path / "run" / "best", load_decoder(tmp_path / "run" / "best")[1].model)
    old = {k: v.numpy() for k, v in source.state_dict().items()}
    for name in ("class_embed.weight", "encoder.head.weight", "latent_embed.weight"):
        np.testing.assert_allclose(weights[name], old[name], atol=1e-5, err_msg=name)


def test_each_latent_token_encodes_its_own_run_of_points_in_torch_and_numpy():
    net, _ = random_pair(latent_size=6, latent_tokens=3, encoder_layers=0)
    encoder = TransformerEncoder(net.cfg, {k: v.numpy() for k, v in net.state_dict().items()})
    strokes = np.zeros((3, 8, 5), np.float32)
    strokes[..., :2] = np.random.default_rng(1).normal(size=(3, 8, 2))
    strokes[..., 2] = 1
    mask = np.ones((3, 8), np.float32)
    mask[1, 6:] = 0  # 6 points: runs of 2
    mask[2, 2:] = 0  # 2 points for 3 tokens: one run is empty
    with torch.no_grad():
        mu, sigma_hat = net.encode(torch.from_numpy(strokes), torch.from_numpy(mask))
    got = encoder.encode(strokes, mask)
    np.testing.assert_allclose(got[0], mu.numpy(), atol=1e-5)
    np.testing.assert_allclose(got[1], sigma_hat.numpy(), atol=1e-5)
    # with no encoder blocks a point reaches only its own token's part of z: the last two of six
    changed = strokes.copy()
    changed[1, 5, :2] += 2.0
    moved = np.abs(encoder.encode(changed, mask)[0] - got[0]) > 1e-6
    assert moved[1].tolist() == [False] * 4 + [True] * 2 and not moved[[0, 2]].any()
    with pytest.raises(ValueError, match="multiple of latent_tokens"):
        ModelConfig(**{**TINY, "latent_size": 7, "latent_tokens": 2})
