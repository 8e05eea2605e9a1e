"""Sampling: shapes, reproducibility, temperature, and the key/value cache."""

import numpy as np
import pytest
import torch

from sketchplot.errors import SketchplotError
from sketchplot.model.sample import sample, with_origin


def test_shapes_and_units(tiny_net):
    drawn = sample(tiny_net, 5, scale=10.0, temperature=1.0, seed=0, max_len=30)
    assert len(drawn) == 5
    for sketch in drawn:
        assert sketch.dtype == np.float32 and sketch.ndim == 2 and sketch.shape[1] == 3
        assert len(sketch) <= 30  # an untrained model may end at once: empty sketches are legal
        assert set(np.unique(sketch[:, 2])) <= {0.0, 1.0}
        assert len(sketch) == 0 or sketch[-1, 2] == 1.0
    assert any(len(s) for s in drawn)


def test_same_seed_same_sketches_other_seed_other_sketches(tiny_net):
    a = sample(tiny_net, 4, scale=1.0, seed=3, max_len=30)
    b = sample(tiny_net, 4, scale=1.0, seed=3, max_len=30)
    c = sample(tiny_net, 4, scale=1.0, seed=4, max_len=30)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, c))


def test_lower_temperature_lower_spread(tiny_net):
    def spread(temperature):
        drawn = sample(tiny_net, 32, scale=1.0, temperature=temperature, seed=0, max_len=30)
        return np.concatenate([s[:, :2] for s in drawn]).std()

    cold, warm = spread(0.1), spread(1.0)
    assert cold < 0.6 * warm


def test_temperature_out_of_range_is_a_user_error(tiny_net):
    with pytest.raises(SketchplotError, match="temperature"):
        sample(tiny_net, 1, scale=1.0, temperature=0.0)


@torch.no_grad()
def test_cached_steps_equal_the_full_forward(tiny_net):
    x = torch.randn(3, 12, 5)
    classes = torch.tensor([0, 1, 1])
    full, _ = tiny_net(x, classes)
    mix, caches = tiny_net(x[:, :5], classes)
    for t in range(5, 12):
        mix, caches = tiny_net(x[:, t : t + 1], classes, caches, start_pos=t)
        torch.testing.assert_close(mix.mu_x[:, 0], full.mu_x[:, t], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(mix.pen_logits[:, 0], full.pen_logits[:, t], atol=1e-5, rtol=1e-4)


def test_prefix_is_kept_and_continued(tiny_net):
    prefix = np.array([[5, 0, 0], [0, 5, 1]], dtype=np.float32)
    drawn = sample(tiny_net, 2, scale=5.0, seed=0, max_len=30, prefix=prefix)
    for sketch in drawn:
        np.testing.assert_allclose(sketch[:2], prefix, atol=1e-5)


def test_with_origin_keeps_the_first_point_of_the_first_stroke():
    from sketchplot.plotter.strokes import strokes_to_polylines

    sketch = np.array([[10, 0, 0], [0, 10, 1], [5, 5, 1]], dtype=np.float32)
    lines = strokes_to_polylines(with_origin(sketch))
    assert [list(line) for line in lines] == [[0, 10, 10 + 10j], [15 + 15j]]


def test_pen_temperature_alone_changes_only_the_pen(tiny_net):
    base = sample(tiny_net, 8, scale=1.0, temperature=0.5, seed=5, max_len=30)
    same = sample(tiny_net, 8, scale=1.0, temperature=0.5, seed=5, max_len=30, pen_temperature=0.5)
    assert all(np.array_equal(a, b) for a, b in zip(base, same))
    hot = sample(tiny_net, 8, scale=1.0, temperature=0.5, seed=5, max_len=30, pen_temperature=2.0)
    assert not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(base, hot))
