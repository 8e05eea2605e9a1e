"""The conditional VAE: KL term and annealing, reparameterisation, the numpy encoder and
conditioned decoder against torch, the joint pen head, and a toy model that memorised two
sketches decoding its interpolation endpoints back to them."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from model_helpers import TINY, random_pair
from test_decoders import assert_mixtures_close, random_strokes

from sketchplot.core.formats import read_stroke3_file
from sketchplot.model.config import PEN_END, ModelConfig
from sketchplot.model.data import make_batch, prepare
from sketchplot.model.decoders import TransformerEncoder, transformer_weight_shapes
from sketchplot.model.evaluate import score_sketches
from sketchplot.model.files import load_decoder, load_encoder
from sketchplot.model.latent import encode, interpolate
from sketchplot.model.mixture import component_log_density, kl_divergence
from sketchplot.model.net import (
    SketchTransformer,
    kl_eta,
    reparameterise,
    sketch_loss,
)
from sketchplot.model.sample import sample
from sketchplot.model.train import TrainConfig, train

VAE = dict(latent_size=6, encoder_layers=1, mu_norm_scale=0.7)


def test_kl_divergence_matches_the_closed_form_and_is_zero_at_the_prior():
    mu = torch.tensor([[0.5, -1.0], [0.0, 2.0]])
    sigma_hat = torch.tensor([[0.0, math.log(4.0)], [math.log(0.25), 0.0]])
    var = sigma_hat.exp()
    by_hand = 0.5 * (var + mu**2 - 1.0 - torch.log(var))  # KL(N(mu, var) || N(0, 1)) per dimension
    assert torch.allclose(kl_divergence(mu, sigma_hat).mean(), by_hand.mean())
    assert torch.allclose(kl_divergence(mu, sigma_hat), by_hand.mean(-1))  # per sketch
    assert kl_divergence(torch.zeros(3, 4), torch.zeros(3, 4)).abs().max().item() == 0.0


def test_kl_annealing_starts_at_eta_min_and_rises_to_one():
    assert kl_eta(0, 0.01, 0.999) == pytest.approx(0.01)
    assert kl_eta(1000, 0.01, 0.999) == pytest.approx(1 - 0.99 * 0.999**1000)
    etas = [kl_eta(step, 0.01, 0.999) for step in range(0, 20000, 500)]
    assert all(a < b for a, b in zip(etas, etas[1:])) and etas[-1] > 0.9999


def test_reparameterisation_has_the_posterior_moments_and_passes_gradients():
    mu = torch.tensor([1.0, -2.0], requires_grad=True)
    sigma_hat = torch.tensor([math.log(0.25), math.log(4.0)], requires_grad=True)  # sigma 0.5 and 2
    torch.manual_seed(0)
    z = reparameterise(mu.expand(200_000, 2), sigma_hat.expand(200_000, 2), torch.randn(200_000, 2))
    assert torch.allclose(z.mean(0), mu, atol=0.02)
    assert torch.allclose(z.std(0), torch.tensor([0.5, 2.0]), atol=0.02)
    z.sum().backward()
    assert mu.grad is not None and sigma_hat.grad is not None and torch.all(sigma_hat.grad != 0)


def test_weight_shapes_cover_encoder_latent_position_and_joint_head():
    cfg = ModelConfig(**{**TINY, **VAE, "n_classes": 2, "pen_head": "joint", "absolute_position": True})
    torch_shapes = {k: tuple(v.shape) for k, v in SketchTransformer(cfg).state_dict().items()}
    assert transformer_weight_shapes(cfg) == torch_shapes
    assert torch_shapes["head.weight"][0] == 9 * TINY["n_mixture"]


@pytest.mark.parametrize("pen_head", ["independent", "joint"])
def test_numpy_encoder_and_conditioned_decoder_equal_torch(pen_head):
    net, decoder = random_pair(pen_head=pen_head, absolute_position=True, **VAE)
    encoder = TransformerEncoder(net.cfg, {k: v.numpy() for k, v in net.state_dict().items()})
    strokes, classes = random_strokes(3, 12), np.array([0, 2, 1])
    mask = np.ones((3, 12), dtype=np.float32)
    mask[1, 7:] = 0.0
    with torch.no_grad():
        mu, sigma_hat = net.encode(torch.from_numpy(strokes), torch.from_numpy(mask))
    got_mu, got_sigma_hat = encoder.encode(strokes, mask)
    assert got_mu.shape == got_sigma_hat.shape == (3, VAE["latent_size"])
    np.testing.assert_allclose(got_mu, mu.numpy(), atol=1e-5)
    np.testing.assert_allclose(got_sigma_hat, sigma_hat.numpy(), atol=1e-5)
    # padding is ignored: the shorter sketch alone encodes the same
    alone, _ = encoder.encode(strokes[1:2, :7], np.ones((1, 7), dtype=np.float32))
    np.testing.assert_allclose(alone[0], got_mu[1], atol=1e-5)
    z = np.random.default_rng(0).normal(size=(3, VAE["latent_size"])).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(strokes), torch.from_numpy(classes), torch.from_numpy(z))
    got = decoder.forward(strokes, classes, z=z)
    assert_mixtures_close(got, expected)
    if pen_head == "joint":
        np.testing.assert_allclose(got.component_pen_logits, expected.component_pen_logits.numpy(), atol=1e-5)
    # z matters, and a conditional decoder refuses to run without one
    assert not np.allclose(decoder.forward(strokes, classes, z=-z).mu_x, got.mu_x, atol=1e-3)
    with pytest.raises(ValueError, match="latent code"):
        decoder.forward(strokes, classes)


def test_joint_head_loss_is_the_joint_likelihood_of_offset_and_pen():
    net, decoder = random_pair(pen_head="joint")
    strokes = random_strokes(2, 9, seed=4)
    target = random_strokes(2, 9, seed=5)
    target[:, -2:, :] = [0, 0, 0, 0, 1]  # end point then padding
    mask = np.ones((2, 9), dtype=np.float32)
    mask[:, -1] = 0.0
    with torch.no_grad():
        mix = net(torch.from_numpy(strokes), torch.tensor([0, 1]))
        loss, offset, pen = sketch_loss(mix, torch.from_numpy(target), torch.from_numpy(mask), net.cfg)
    # by hand: -log sum_k pi_k N_k(dx, dy) p_k(pen) at points with offsets,
    # -log sum_k pi_k p_k(end) at the end point and padding
    t = torch.from_numpy(target)
    pen_target = t[..., 2:].argmax(-1)
    log_pen_k = torch.stack(
        [
            torch.stack([F.log_softmax(mix.component_pen_logits[b, i], -1)[:, pen_target[b, i]] for i in range(9)])
            for b in range(2)
        ]
    )
    log_offset = torch.logsumexp(component_log_density(mix, t[..., 0], t[..., 1]), -1)
    joint = torch.logsumexp(component_log_density(mix, t[..., 0], t[..., 1]) + log_pen_k, -1)
    marginal = torch.logsumexp(mix.log_pi + log_pen_k, -1)
    has_offset = (pen_target != PEN_END) & (torch.from_numpy(mask) > 0)
    offset_only = -torch.where(has_offset, log_offset, 0).sum() / has_offset.sum()
    pen_only = -(torch.where(has_offset, joint - log_offset, marginal)).sum() / torch.from_numpy(mask).sum()
    assert pen.item() == pytest.approx(pen_only.item(), rel=1e-5)
    assert offset.item() == pytest.approx(offset_only.item(), rel=1e-5)
    assert loss.item() == pytest.approx((offset_only + pen_only).item(), rel=1e-5)  # the loss, by hand
    # the numpy evaluation computes the same offset and pen terms
    sketches = [np.array([[3, 1, 0], [2, -2, 1], [-4, 0, 0], [1, 1, 1]], np.float32)]
    batch = make_batch(sketches, [1], 1.0)
    with torch.no_grad():
        mix = net(torch.from_numpy(batch.inputs), torch.tensor([1]))
        _, offset, pen = sketch_loss(mix, torch.from_numpy(batch.targets), torch.from_numpy(batch.mask), net.cfg)
    result = score_sketches(decoder, sketches, class_index=1, input_scale=1.0, unit_scale=1.0, max_seq_len=8)
    assert result.offset_nll == pytest.approx(offset.item(), rel=1e-4)
    assert result.pen_ce == pytest.approx(pen.item(), rel=1e-4)


def test_joint_head_samples_the_pen_of_the_chosen_component():
    net, decoder = random_pair(pen_head="joint")
    with torch.no_grad():  # component k ends the sketch iff k == 0, and component 0 is never chosen
        net.head.weight.zero_()
        bias = torch.full((9 * TINY["n_mixture"],), 0.0)
        bias[0] = -1e4  # log pi of component 0
        pens = bias[6 * TINY["n_mixture"] :].view(TINY["n_mixture"], 3)
        pens[:] = torch.tensor([5.0, 0.0, -1e4])  # draw mostly, never end...
        pens[0] = torch.tensor([-1e4, -1e4, 10.0])  # ...except component 0, which always ends
        net.head.bias.copy_(bias)
    from sketchplot.model.decoders import TransformerDecoder

    decoder = TransformerDecoder(net.cfg, {k: v.numpy() for k, v in net.state_dict().items()})
    drawn = sample(decoder, 4, scale=1.0, seed=0, max_len=30)
    assert all(len(s) == 30 for s in drawn)  # the marginal end probability is > 0, the chosen one never ends


def _two_sketches(tmp_path):
    """A square and a zigzag, each its own class file (toy mode keeps one of each), that differ
    from their first point on: both start from the same start token, so only the latent code can
    tell the decoder which one to draw. (After a shared first stroke, z would have to change the
    prediction at the branch point alone and nowhere before it, a position-gated feature that a
    one-layer toy takes over a thousand steps to learn.)"""
    square = np.array([[20, 20, 0], [40, 0, 0], [0, 40, 0], [-40, 0, 0], [0, -40, 1]], dtype=np.int16)
    zigzag = np.array([[20, 20, 0], [15, -20, 0], [15, 20, 0], [15, -20, 0], [15, 20, 1]], dtype=np.int16)
    paths = []
    for name, sketch in (("square", square), ("zigzag", zigzag)):
        one = np.empty(1, dtype=object)
        one[0] = sketch
        np.savez(tmp_path / f"{name}.npz", train=one, valid=one, test=one)
        paths.append(tmp_path / f"{name}.npz")
    return paths


@pytest.mark.slow
def test_toy_vae_memorises_two_sketches_and_interpolation_ends_decode_to_them(tmp_path):
    paths = _two_sketches(tmp_path)
    # One Gaussian (n_mixture 1) cannot hedge between the two first points, so the decoder has to
    # read z; with several components it can put one on each and pick by chance at low temperature.
    # sigma_floor 0.1: memorised points otherwise shrink sigma towards 1e-3, the likelihood and its
    # curvature grow without bound, and Adam oscillates on them instead of learning z's one point
    # per sketch. A plain VAE with free bits (kl_min) rather than BN-VAE, whose batch statistics
    # over 4 draws of 2 sketches are degenerate (a batch of one sketch codes it as 0).
    cfg = TrainConfig.from_dict(
        {
            "batch_size": 4,
            "max_steps": 700,
            "warmup_steps": 50,
            "learning_rate": 3e-3,
            "min_learning_rate": 1e-4,
            "max_seq_len": 40,
            "eval_interval": 700,
            "checkpoint_interval": 700,
            "log_interval": 50,
            "device": "cpu",
            "save_half": False,
            "augment_scale": 0.0,
            "toy": 1,
            "class_labels": False,
            "kl_weight": 0.01,
            "kl_min": 0.5,
            "kl_eta_min": 1.0,
            "seed": 1234,
            "model": {
                **TINY,
                **VAE,
                "n_embd": 64,
                "n_head": 4,
                "absolute_position": True,
                "n_mixture": 1,
                "sigma_floor": 0.1,
                "mu_norm_scale": 0.0,
            },
        }
    )
    train(["square", "zigzag"], paths, tmp_path / "run", cfg, progress=False)
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all("l_kl" in r and "kl_eta" in r for r in records if "loss" in r)
    decoder, info = load_decoder(tmp_path / "run" / "best")
    assert info.model.n_classes == 1 and info.classes == ["square", "zigzag"]
    encoder = load_encoder(tmp_path / "run" / "best")
    targets = [prepare(read_stroke3_file(p, "train"), 40)[0] for p in paths]
    mu, _ = encode(encoder, targets, info.scale)
    assert np.linalg.norm(mu[0] - mu[1]) > 1.0  # the two sketches get different codes
    path = interpolate(mu[0], mu[1], 5)
    np.testing.assert_allclose(path[[0, -1]], mu, atol=1e-5)
    ends = sample(
        decoder, 2, scale=info.scale, temperature=0.01, pen_temperature=0.01, seed=0, max_len=40, z=path[[0, -1]]
    )
    for drawn, target in zip(ends, targets):
        extent = np.ptp(np.cumsum(target[:, :2], 0), axis=0).max()
        assert len(drawn) == len(target)
        assert np.abs(np.cumsum(drawn[:, :2], 0) - np.cumsum(target[:, :2], 0)).max() < 0.15 * extent
