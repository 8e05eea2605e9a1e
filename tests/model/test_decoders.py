"""The numpy inference decoder computes what the torch training model computes."""

import math

import numpy as np
import pytest
import torch
from model_helpers import TINY, random_pair

from sketchplot.model.config import ModelConfig
from sketchplot.model.decoders import KVCache, TransformerDecoder, erf, transformer_weight_shapes
from sketchplot.model.net import SketchTransformer

FIELDS = ("log_pi", "mu_x", "mu_y", "sigma_x", "sigma_y", "rho", "pen_logits")


def random_strokes(batch: int, length: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    strokes = np.zeros((batch, length, 5), dtype=np.float32)
    strokes[..., :2] = rng.normal(0, 1.5, (batch, length, 2))
    strokes[np.arange(batch)[:, None], np.arange(length), 2 + rng.integers(0, 3, (batch, length))] = 1.0
    return strokes


def assert_mixtures_close(got, expected, steps=slice(None)):
    for name in FIELDS:
        np.testing.assert_allclose(
            getattr(got, name), getattr(expected, name).numpy()[:, steps], rtol=1e-5, atol=1e-5, err_msg=name
        )


def test_weight_shapes_are_the_torch_state_dict():
    cfg = ModelConfig(**{**TINY, "n_classes": 4})
    torch_shapes = {k: tuple(v.shape) for k, v in SketchTransformer(cfg).state_dict().items()}
    assert transformer_weight_shapes(cfg) == torch_shapes


@pytest.mark.parametrize("sigma_activation", ["elu", "exp"])
def test_full_sequence_equals_torch(sigma_activation):
    net, decoder = random_pair(sigma_activation)
    strokes, classes = random_strokes(3, 17), np.array([0, 2, 1])
    with torch.no_grad():
        expected = net(torch.from_numpy(strokes), torch.from_numpy(classes))
    assert_mixtures_close(decoder.forward(strokes, classes), expected)
    # the class embedding matters: another class gives other outputs
    other = decoder.forward(strokes, np.array([1, 0, 2]))
    assert not np.allclose(other.mu_x, expected.mu_x.numpy(), atol=1e-3)


@pytest.mark.parametrize("sigma_activation", ["elu", "exp"])
def test_cached_steps_equal_the_full_torch_forward(sigma_activation):
    net, decoder = random_pair(sigma_activation, seed=2)
    strokes, classes = random_strokes(2, TINY["block_size"], seed=3), np.array([2, 0])
    with torch.no_grad():
        expected = net(torch.from_numpy(strokes), torch.from_numpy(classes))
    cache = decoder.new_cache(2)
    # a prefix of several points into an empty cache, then one point at a time up to block_size
    assert_mixtures_close(decoder.forward(strokes[:, :6], classes, cache), expected, slice(0, 6))
    for t in range(6, 20):
        assert_mixtures_close(decoder.forward(strokes[:, t : t + 1], classes, cache), expected, slice(t, t + 1))
    # several points at once after cached ones: the causal mask is offset by the cache
    assert_mixtures_close(decoder.forward(strokes[:, 20:], classes, cache), expected, slice(20, None))
    assert cache.length == TINY["block_size"]
    with pytest.raises(ValueError, match="exceeds block_size"):
        decoder.forward(strokes[:, :1], classes, cache)


def test_an_attention_window_is_the_same_in_torch_and_in_cached_numpy_steps():
    window = 5
    net, decoder = random_pair("elu", seed=4, attention_window=window)
    strokes, classes = random_strokes(2, 30, seed=5), np.array([1, 0])
    with torch.no_grad():
        expected = net(torch.from_numpy(strokes), torch.from_numpy(classes))
    assert_mixtures_close(decoder.forward(strokes, classes), expected)
    cache = decoder.new_cache(2)
    assert_mixtures_close(decoder.forward(strokes[:, :8], classes, cache), expected, slice(0, 8))
    for t in range(8, 20):
        assert_mixtures_close(decoder.forward(strokes[:, t : t + 1], classes, cache), expected, slice(t, t + 1))
    assert_mixtures_close(decoder.forward(strokes[:, 20:], classes, cache), expected, slice(20, None))
    # each layer looks back window - 1 points, so a step sees n_layer * (window - 1) back and no
    # more (the tiny model has no absolute-position input, which would carry every earlier offset)
    reach = net.cfg.n_layer * (window - 1) + 1
    changed = strokes.copy()
    changed[:, 10, :2] += 3.0
    with torch.no_grad():
        after = net(torch.from_numpy(changed), torch.from_numpy(classes))
    moved = np.abs(after.mu_x.numpy() - expected.mu_x.numpy()).max(axis=(0, 2)) > 1e-6
    assert moved[10 : 10 + reach].all() and not moved[10 + reach :].any() and not moved[:10].any()


def test_rows_of_a_cached_batch_are_independent():
    _, decoder = random_pair("elu")
    strokes, classes = random_strokes(2, 5), np.array([0, 1])
    together, alone = decoder.new_cache(2), decoder.new_cache(1)
    assert isinstance(together, KVCache) and together.length == 0
    for t in range(5):
        both = decoder.forward(strokes[:, t : t + 1], classes, together)
        first = decoder.forward(strokes[:1, t : t + 1], classes[:1], alone)
        np.testing.assert_allclose(both.mu_x[:1], first.mu_x, rtol=1e-6, atol=1e-6)


def test_wrong_weights_are_refused():
    net, _ = random_pair("elu")
    weights = {k: v.numpy() for k, v in net.state_dict().items()}
    with pytest.raises(ValueError, match="missing weights"):
        TransformerDecoder(net.cfg, {k: v for k, v in weights.items() if k != "head.bias"})
    weights["head.weight"] = weights["head.weight"][:-1]
    with pytest.raises(ValueError, match="head.weight has shape"):
        TransformerDecoder(net.cfg, weights)


def test_erf_is_erf_to_float32_precision():
    x = np.linspace(-7, 7, 100_001).astype(np.float32)
    exact = np.array([math.erf(v) for v in x.astype(np.float64)])
    assert np.abs(erf(x) - exact).max() < 5e-7
    assert erf(x).dtype == np.float32


def test_a_cache_keeps_the_chosen_rows():
    net, decoder = random_pair("elu", seed=4)
    strokes, classes = random_strokes(3, 8), np.array([0, 1, 2])
    with torch.no_grad():
        expected = net(torch.from_numpy(strokes), torch.from_numpy(classes))
    cache = decoder.new_cache(3)
    decoder.forward(strokes[:, :5], classes, cache)
    cache.keep(np.array([2, 0]))
    got = decoder.forward(strokes[[2, 0], 5:], classes[[2, 0]], cache)
    np.testing.assert_allclose(got.mu_x, expected.mu_x.numpy()[[2, 0], 5:], rtol=1e-5, atol=1e-5)


def test_latent_tokens_are_the_same_in_torch_and_in_cached_numpy_steps():
    net, decoder = random_pair("elu", seed=6, latent_size=8, latent_tokens=4, encoder_layers=1)
    strokes, classes = random_strokes(2, TINY["block_size"], seed=7), np.array([1, 0])
    z = np.random.default_rng(8).normal(size=(2, 8)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(strokes), torch.from_numpy(classes), z=torch.from_numpy(z))
    assert_mixtures_close(decoder.forward(strokes, classes, z=z), expected)
    cache = decoder.new_cache(2)
    assert_mixtures_close(decoder.forward(strokes[:, :1], classes, cache, z=z), expected, slice(0, 1))
    for t in range(1, 12):
        assert_mixtures_close(decoder.forward(strokes[:, t : t + 1], classes, cache, z=z), expected, slice(t, t + 1))
    assert_mixtures_close(decoder.forward(strokes[:, 12:], classes, cache, z=z), expected, slice(12, None))
    assert cache.length == 4 + TINY["block_size"]
    # every part of z reaches the first step and the last
    for part in range(4):
        moved = z.copy()
        moved[:, 2 * part : 2 * part + 2] += 1.0
        other = decoder.forward(strokes, classes, z=moved)
        for step in (0, -1):
            assert not np.allclose(other.mu_x[:, step], expected.mu_x.numpy()[:, step], atol=1e-4)
