"""Evaluation maths on a model whose answer is known in closed form, and against torch."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from model_helpers import random_pair

from sketchplot.model.config import PEN_END, Mixture
from sketchplot.model.data import DataError, make_batch
from sketchplot.model.evaluate import evaluate_file, score_sketches
from sketchplot.model.mixture import offset_log_likelihood


class StandardNormalModel:
    """Every next offset ~ N(0, I) in the model's units; pen logits uniform (CE = log 3)."""

    block_size = 1000
    latent_size = 0

    def forward(self, strokes, classes=None, cache=None, z=None):
        shape = strokes.shape[:2] + (1,)
        zeros, ones = np.zeros(shape, np.float32), np.ones(shape, np.float32)
        return Mixture(zeros, zeros, zeros, ones, ones, zeros, np.zeros(strokes.shape[:2] + (3,), np.float32))


def closed_form(sketches, scale, n_max, unit_scale):
    offsets = np.concatenate([s[:, :2] for s in sketches]) / scale
    # density in unit_scale units = density in model units * (unit_scale / scale) ** 2
    per_point = math.log(2 * math.pi) + 0.5 * (offsets**2).sum(1) + 2 * math.log(scale / unit_scale)
    l_r = np.mean(
        [
            (per_point[start : start + len(s)].sum() + n_max * math.log(3)) / n_max
            for start, s in zip(np.cumsum([0] + [len(s) for s in sketches[:-1]]), sketches)
        ]
    )
    return per_point.mean() + math.log(3), per_point.mean(), l_r


@pytest.mark.parametrize("input_scale, unit_scale", [(10.0, 10.0), (10.0, 25.0)])
def test_nll_and_l_r_match_closed_form(input_scale, unit_scale):
    rng = np.random.default_rng(0)
    sketches = [np.column_stack([rng.normal(0, 10, (n, 2)), np.zeros(n)]).astype(np.float32) for n in (5, 9, 3)]
    for s in sketches:
        s[-1, 2] = 1
    result = score_sketches(
        StandardNormalModel(), sketches, input_scale=input_scale, unit_scale=unit_scale, max_seq_len=12, batch_size=2
    )
    nll, offset_nll, l_r = closed_form(sketches, input_scale, 12, unit_scale)
    assert result.n_sketches == 3 and result.n_points == 17
    assert result.pen_ce == pytest.approx(math.log(3), rel=1e-5)
    assert result.offset_nll == pytest.approx(offset_nll, rel=1e-5)
    assert result.nll == pytest.approx(nll, rel=1e-5)
    assert result.l_r == pytest.approx(l_r, rel=1e-5)


def test_evaluate_file_uses_the_train_split_std_and_drops_long_sketches(tiny_npz, tiny_decoder):
    short = evaluate_file(tiny_decoder, 7.0, tiny_npz, split="test", max_seq_len=20)
    full = evaluate_file(tiny_decoder, 7.0, tiny_npz, split="test", max_seq_len=40)
    assert short.n_sketches < full.n_sketches == 6
    assert full.unit_scale == pytest.approx(
        np.concatenate([s[1:, :2].ravel() for s in np.load(tiny_npz, allow_pickle=True)["train"]]).std(), rel=1e-5
    )
    assert np.isfinite([full.nll, full.l_r]).all()
    with pytest.raises(DataError, match="no 'test' sketches of at most 5 points"):
        evaluate_file(tiny_decoder, 7.0, tiny_npz, split="test", max_seq_len=5)


def torch_reference(net, sketches, scale, max_seq_len):
    """nll and l_r as the torch evaluator computed them before inference moved to numpy."""
    batch = make_batch(sketches, [1] * len(sketches), scale, pad_to=max_seq_len + 1).to("cpu")
    with torch.no_grad():
        mix = net(batch.inputs, batch.classes)
    pen_target = batch.targets[..., 2:].argmax(-1)
    offset_mask = batch.mask * (pen_target != PEN_END)
    offset_nll = -offset_log_likelihood(mix, batch.targets[..., 0], batch.targets[..., 1])
    offset_nll = torch.where(offset_mask > 0, offset_nll, 0.0)
    pen_ce = F.cross_entropy(mix.pen_logits.transpose(1, 2), pen_target, reduction="none")
    nll = float(offset_nll.sum() / offset_mask.sum() + (pen_ce * batch.mask).sum() / batch.mask.sum())
    l_r = float(((offset_nll[:, :max_seq_len].sum(1) + pen_ce[:, :max_seq_len].sum(1)) / max_seq_len).mean())
    return nll, l_r


def test_numpy_scores_equal_the_torch_evaluation():
    net, decoder = random_pair()
    rng = np.random.default_rng(4)
    sketches = [
        np.column_stack([rng.normal(0, 8, (n, 2)), rng.random(n) < 0.2]).astype(np.float32) for n in (12, 30, 7, 40)
    ]
    result = score_sketches(decoder, sketches, class_index=1, input_scale=6.0, unit_scale=6.0, max_seq_len=40)
    nll, l_r = torch_reference(net, sketches, 6.0, 40)
    assert result.nll == pytest.approx(nll, abs=1e-4) and result.l_r == pytest.approx(l_r, abs=1e-4)


def test_offset_log_likelihood_equals_the_training_loss_term():
    net, decoder = random_pair("exp")
    strokes = np.random.default_rng(5).normal(0, 1, (2, 9, 5)).astype(np.float32)
    dx, dy = np.random.default_rng(6).normal(0, 2, (2, 2, 9)).astype(np.float32)
    with torch.no_grad():
        expected = offset_log_likelihood(net(torch.from_numpy(strokes)), torch.from_numpy(dx), torch.from_numpy(dy))
    got = offset_log_likelihood(decoder.forward(strokes, np.zeros(2, dtype=np.int64)), dx, dy)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-5)


class CodeMeanModel(StandardNormalModel):
    """Every next offset ~ N((z_0, z_1), I): the code says where the pen goes."""

    latent_size = 2

    def forward(self, strokes, classes=None, cache=None, z=None):
        mix = super().forward(strokes, classes)
        shape = mix.mu_x.shape
        return Mixture(
            mix.log_pi,
            np.broadcast_to(z[:, None, None, 0], shape),
            np.broadcast_to(z[:, None, None, 1], shape),
            *(mix.sigma_x, mix.sigma_y, mix.rho, mix.pen_logits),
        )


def test_given_codes_are_each_sketchs_own_across_batches():
    sketches = [np.array([[k, -k, 0]] * 4 + [[k, -k, 1]], np.float32) for k in range(5)]
    codes = np.array([[k, -k] for k in range(5)], np.float32)

    def offset_nll(given):
        return score_sketches(
            CodeMeanModel(), sketches, input_scale=1.0, unit_scale=1.0, max_seq_len=8, batch_size=2, codes=given
        ).offset_nll

    assert offset_nll(codes) == pytest.approx(math.log(2 * math.pi))  # every offset at its mean
    assert offset_nll(np.roll(codes, 1, axis=0)) > offset_nll(codes) + 0.5
