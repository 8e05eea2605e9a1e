"""The mixture-density maths, written once for numpy arrays and torch tensors alike.

Training differentiates these functions on torch tensors; evaluation runs the same functions
on the numpy decoder's output, so the two cannot disagree about a likelihood. Each function
takes its array operations from the type of its input (``_ops``), the array-namespace idea
without a dependency: torch is imported only when a tensor arrives.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sketchplot.model.config import PEN_END, Mixture

LOG_2PI = math.log(2.0 * math.pi)
Array = Any  # a numpy array or a torch tensor; every function returns the kind it is given


class _NumpyOps:
    log, exp, where = np.log, np.exp, np.where

    @staticmethod
    def logsumexp(x, axis: int = -1):
        top = x.max(axis=axis, keepdims=True)
        return np.squeeze(top, axis) + np.log(np.exp(x - top).sum(axis=axis))

    @classmethod
    def log_softmax(cls, x, axis: int = -1):
        return x - np.expand_dims(cls.logsumexp(x, axis), axis)

    @staticmethod
    def pick(x, index):
        """x[..., index] for an integer array ``index`` of x's leading shape."""
        return np.take_along_axis(x, index[..., None], -1)[..., 0]

    @staticmethod
    def pick_per_component(x, index):
        """x[..., k, index] for every component k: (..., M, C) and (...,) -> (..., M)."""
        index = np.broadcast_to(index[..., None, None], (*index.shape, x.shape[-2], 1))
        return np.take_along_axis(x, index, -1)[..., 0]

    @staticmethod
    def mean(x, axis: int = -1):
        return np.mean(x, axis=axis)


class _TorchOps:
    def __init__(self, torch: Any):
        self.torch = torch
        self.log, self.exp, self.where = torch.log, torch.exp, torch.where

    def logsumexp(self, x, axis: int = -1):
        return self.torch.logsumexp(x, dim=axis)

    def log_softmax(self, x, axis: int = -1):
        return self.torch.log_softmax(x, dim=axis)

    def pick(self, x, index):
        return x.gather(-1, index[..., None]).squeeze(-1)

    def pick_per_component(self, x, index):
        return x.gather(-1, index[..., None, None].expand(*index.shape, x.shape[-2], 1)).squeeze(-1)

    def mean(self, x, axis: int = -1):
        return x.mean(dim=axis)


def _ops(array: Array) -> Any:
    if type(array).__module__.split(".")[0] == "torch":
        import torch

        return _TorchOps(torch)
    return _NumpyOps


def component_log_density(mix: Mixture, dx: Array, dy: Array) -> Array:
    """log pi_k + log N_k(dx, dy) for every component, (..., M) from (...,) targets."""
    xp = _ops(mix.mu_x)
    zx = (dx[..., None] - mix.mu_x) / mix.sigma_x
    zy = (dy[..., None] - mix.mu_y) / mix.sigma_y
    one_minus_rho2 = 1.0 - mix.rho**2
    z = zx**2 + zy**2 - 2.0 * mix.rho * zx * zy
    log_n = (
        -z / (2.0 * one_minus_rho2) - LOG_2PI - xp.log(mix.sigma_x) - xp.log(mix.sigma_y) - 0.5 * xp.log(one_minus_rho2)
    )
    return mix.log_pi + log_n


def offset_log_likelihood(mix: Mixture, dx: Array, dy: Array) -> Array:
    """log p(dx, dy) under the bivariate Gaussian mixture, (...,) from (...,) targets."""
    return _ops(mix.mu_x).logsumexp(component_log_density(mix, dx, dy))


def pen_log_likelihood(mix: Mixture, pen_target: Array, log_density: Array, has_offset: Array) -> Array:
    """log p(pen) of every point. The independent head: its own pen distribution. The joint
    head: log p(pen | offset) where the point has an offset (the components weighted by how well
    they explain it), the marginal log p(pen) where it has none (the end point, padding)."""
    xp = _ops(mix.mu_x)
    if mix.component_pen_logits is None:
        return xp.pick(xp.log_softmax(mix.pen_logits), pen_target)
    log_pen = xp.pick_per_component(xp.log_softmax(mix.component_pen_logits), pen_target)  # (..., M)
    conditional = xp.logsumexp(log_density + log_pen) - xp.logsumexp(log_density)
    marginal = xp.logsumexp(mix.log_pi + log_pen)
    return xp.where(has_offset, conditional, marginal)


def point_log_likelihood(mix: Mixture, targets: Array) -> tuple[Array, Array]:
    """(log p(offset), log p(pen)) of every stroke-5 target point (..., 5), the pen as
    ``pen_log_likelihood`` gives it. End points (and padding) have no offset: their first term
    is meaningless and is the caller's to mask."""
    pen_target = targets[..., 2:].argmax(-1)
    log_density = component_log_density(mix, targets[..., 0], targets[..., 1])
    has_offset = pen_target != PEN_END
    return _ops(mix.mu_x).logsumexp(log_density), pen_log_likelihood(mix, pen_target, log_density, has_offset)


def kl_divergence(mu: Array, sigma_hat: Array) -> Array:
    """KL(N(mu, exp(sigma_hat)) || N(0, I)) per sketch, averaged over latent dimensions (so
    Sketch-RNN's KL_min is per dimension); training takes the mean over the batch."""
    xp = _ops(mu)
    return -0.5 * xp.mean(1.0 + sigma_hat - mu**2 - xp.exp(sigma_hat))
