"""Sampling (numpy): shapes, reproducibility, temperature, prefixes."""

import numpy as np
import pytest
from model_helpers import random_pair

from sketchplot.core.errors import SketchplotError
from sketchplot.model.sample import sample


def test_shapes_and_units(tiny_decoder):
    drawn = sample(tiny_decoder, 5, scale=10.0, temperature=1.0, seed=0, max_len=30)
    assert len(drawn) == 5
    for sketch in drawn:
        assert sketch.dtype == np.float32 and sketch.ndim == 2 and sketch.shape[1] == 3
        assert len(sketch) <= 30  # an untrained model may end at once: empty sketches are legal
        assert set(np.unique(sketch[:, 2])) <= {0.0, 1.0}
        assert len(sketch) == 0 or sketch[-1, 2] == 1.0
    assert any(len(s) for s in drawn)


def test_same_seed_same_sketches_other_seed_other_sketches(tiny_decoder):
    a = sample(tiny_decoder, 4, scale=1.0, seed=3, max_len=30)
    b = sample(tiny_decoder, 4, scale=1.0, seed=3, max_len=30)
    c = sample(tiny_decoder, 4, scale=1.0, seed=4, max_len=30)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, c))


def test_lower_temperature_lower_spread(tiny_decoder):
    def spread(temperature):
        drawn = sample(tiny_decoder, 32, scale=1.0, temperature=temperature, seed=0, max_len=30)
        return np.concatenate([s[:, :2] for s in drawn]).std()

    cold, warm = spread(0.1), spread(1.0)
    assert cold < 0.6 * warm


def test_temperature_out_of_range_is_a_user_error(tiny_decoder):
    with pytest.raises(SketchplotError, match="temperature"):
        sample(tiny_decoder, 1, scale=1.0, temperature=0.0)


def test_prefix_is_kept_and_continued(tiny_decoder):
    prefix = np.array([[5, 0, 0], [0, 5, 1]], dtype=np.float32)
    drawn = sample(tiny_decoder, 2, scale=5.0, seed=0, max_len=30, prefix=prefix)
    for sketch in drawn:
        np.testing.assert_allclose(sketch[:2], prefix, atol=1e-5)


def test_pen_temperature_alone_changes_only_the_pen():
    _, tiny_decoder = random_pair()  # pen logits far from uniform, unlike an untrained model's
    base = sample(tiny_decoder, 8, scale=1.0, temperature=0.5, seed=5, max_len=30)
    same = sample(tiny_decoder, 8, scale=1.0, temperature=0.5, seed=5, max_len=30, pen_temperature=1.0)
    assert all(np.array_equal(a, b) for a, b in zip(base, same))
    cold = sample(tiny_decoder, 8, scale=1.0, temperature=0.5, seed=5, max_len=30, pen_temperature=0.5)
    hot = sample(tiny_decoder, 8, scale=1.0, temperature=0.5, seed=5, max_len=30, pen_temperature=2.0)
    assert not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(cold, hot))
