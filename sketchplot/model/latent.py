"""Latent codes of a conditional (VAE) model: encode sketches, interpolate, add and subtract.

Sketch-RNN's creative tools work on z: decoding the code of a sketch redraws it in the
model's style (reconstruction), codes on the great circle between two sketches morph one into
the other (spherical interpolation, as in the paper, because Gaussian codes concentrate near
a sphere and a straight line between them passes through unlikely, short codes), and
z(A) - z(B) + z(C) transfers what tells A from B onto C. numpy only, like all inference.
"""

from __future__ import annotations

import numpy as np

from sketchplot.core.errors import SketchplotError
from sketchplot.model.data import make_batch
from sketchplot.model.decoders import TransformerEncoder


def encode(
    encoder: TransformerEncoder, sketches: list[np.ndarray], scale: float, where: str = "sketch"
) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma_hat) of each stroke-3 sketch (data units, no start row), (B, latent_size) each;
    sigma = exp(sigma_hat / 2). ``encoder``: a ``decoders.TransformerEncoder``."""
    limit = encoder.cfg.block_size - 1
    for i, sketch in enumerate(sketches):
        if not 0 < len(sketch) <= limit:
            raise SketchplotError(f"{where} {i}: {len(sketch)} points; the model reads 1 to {limit}")
    batch = make_batch(list(sketches), [0] * len(sketches), scale)
    return encoder.encode(batch.targets, batch.mask)


def slerp(z0: np.ndarray, z1: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation from z0 (t=0) to z1 (t=1); linear when the codes are parallel."""
    z0, z1 = np.asarray(z0, dtype=np.float64), np.asarray(z1, dtype=np.float64)
    cos = np.dot(z0, z1) / max(np.linalg.norm(z0) * np.linalg.norm(z1), 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:
        return ((1 - t) * z0 + t * z1).astype(np.float32)
    return ((np.sin((1 - t) * omega) * z0 + np.sin(t * omega) * z1) / np.sin(omega)).astype(np.float32)


def interpolate(z0: np.ndarray, z1: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` codes from z0 to z1 inclusive, evenly spaced in angle, (steps, latent_size)."""
    if steps < 2:
        raise SketchplotError(f"an interpolation needs at least 2 steps, got {steps}")
    return np.stack([slerp(z0, z1, t) for t in np.linspace(0.0, 1.0, steps)])


def analogy(z_a: np.ndarray, z_b: np.ndarray, z_c: np.ndarray) -> np.ndarray:
    """z(A) - z(B) + z(C): what A has and B lacks, added to C."""
    return (np.asarray(z_a) - np.asarray(z_b) + np.asarray(z_c)).astype(np.float32)
