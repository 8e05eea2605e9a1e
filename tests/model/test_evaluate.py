"""Evaluation maths on a model whose answer is known in closed form."""

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from sketchplot.model.data import DataError
from sketchplot.model.evaluate import evaluate_file, score_sketches
from sketchplot.model.net import Mixture


@dataclass
class _Cfg:
    block_size: int = 1000
    n_classes: int = 1


class StandardNormalModel(torch.nn.Module):
    """Every next offset ~ N(0, I) in the model's units; pen logits uniform (CE = log 3)."""

    cfg = _Cfg()

    def forward(self, strokes, classes=None, caches=None, start_pos=0):
        shape = strokes.shape[:2] + (1,)
        zeros, ones = torch.zeros(shape), torch.ones(shape)
        return Mixture(zeros, zeros, zeros, ones, ones, zeros, torch.zeros(strokes.shape[:2] + (3,))), None


def closed_form(sketches, scale, n_max, unit_scale):
    offsets = np.concatenate([s[:, :2] for s in sketches]) / scale
    # density in unit_scale units = density in model units * (unit_scale / scale) ** 2
    per_point = math.log(2 * math.pi) + 0.5 * (offsets**2).sum(1) + 2 * math.log(scale / unit_scale)
    l_r = np.mean([
        (per_point[start : start + len(s)].sum() + n_max * math.log(3)) / n_max
        for start, s in zip(np.cumsum([0] + [len(s) for s in sketches[:-1]]), sketches)
    ])
    return per_point.mean() + math.log(3), per_point.mean(), l_r


@pytest.mark.parametrize("input_scale, unit_scale", [(10.0, 10.0), (10.0, 25.0)])
def test_nll_and_l_r_match_closed_form(input_scale, unit_scale):
    rng = np.random.default_rng(0)
    sketches = [np.column_stack([rng.normal(0, 10, (n, 2)), np.zeros(n)]).astype(np.float32) for n in (5, 9, 3)]
    for s in sketches:
        s[-1, 2] = 1
    result = score_sketches(StandardNormalModel(), sketches, input_scale=input_scale, unit_scale=unit_scale,
                            max_seq_len=12, batch_size=2)
    nll, offset_nll, l_r = closed_form(sketches, input_scale, 12, unit_scale)
    assert result.n_sketches == 3 and result.n_points == 17
    assert result.pen_ce == pytest.approx(math.log(3), rel=1e-5)
    assert result.offset_nll == pytest.approx(offset_nll, rel=1e-5)
    assert result.nll == pytest.approx(nll, rel=1e-5)
    assert result.l_r == pytest.approx(l_r, rel=1e-5)


def test_evaluate_file_uses_the_train_split_std_and_drops_long_sketches(tiny_npz, tiny_net):
    short = evaluate_file(tiny_net, 7.0, tiny_npz, split="test", max_seq_len=20)
    full = evaluate_file(tiny_net, 7.0, tiny_npz, split="test", max_seq_len=40)
    assert short.n_sketches < full.n_sketches == 6
    assert full.unit_scale == pytest.approx(
        np.concatenate([s[1:, :2].ravel() for s in np.load(tiny_npz, allow_pickle=True)["train"]]).std(), rel=1e-5
    )
    assert np.isfinite([full.nll, full.l_r]).all()
    with pytest.raises(DataError, match="no 'test' sketches of at most 5 points"):
        evaluate_file(tiny_net, 7.0, tiny_npz, split="test", max_seq_len=5)
