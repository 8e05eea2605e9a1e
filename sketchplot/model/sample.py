"""Sampling sketches from a decoder, batched, with a key/value (or LSTM state) cache.

Temperature follows Sketch-RNN for the offsets: mixture weights are divided by tau and the
sigmas scaled by sqrt(tau), so low temperatures give tidy, typical drawings and high ones
wilder strokes. The pen state has its own temperature, 1 by default: Sketch-RNN divides the pen
logits by tau too, but that makes the rare end-of-sketch state rarer still, and measured on the
shipped model at tau 0.5 the sketches came out 1.2 to 2x longer than the data's, some running
to the length cap; at pen temperature 1 their point and stroke counts match the data's
(MODELS.md). Pass ``pen_temperature=temperature`` for Sketch-RNN's rule.
numpy only: see ``sketchplot.model.decoders`` for why.
"""

from __future__ import annotations

import math

import numpy as np

from sketchplot.core.errors import SketchplotError
from sketchplot.core.formats import to_stroke5
from sketchplot.model.config import PEN_END, PEN_LIFT, PEN_TEMPERATURE, Mixture
from sketchplot.model.data import START_TOKEN
from sketchplot.model.decoders import Decoder

MIN_TEMPERATURE, MAX_TEMPERATURE = 0.01, 2.0
END_POINT = np.array([0, 0, 0, 0, 1], dtype=np.float32)
# Ended sketches leave the batch once they are this fraction of it: dropping a row copies its
# cache, so rows go in groups rather than one by one.
COMPACT_FRACTION = 0.75
# Sketches are drawn in batches whose caches fit in this much memory (256 at a time for the
# shipped models), so the memory of `sample -n 10000` does not grow with n.
CACHE_BUDGET_BYTES = 256 * 2**20
MAX_BATCH = 256


class SampleError(SketchplotError):
    """The model's output is not usable (NaN or infinite): its weights are corrupted."""


def check_temperature(temperature: float) -> None:
    if not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE or math.isnan(temperature):
        raise SketchplotError(f"temperature {temperature} out of range [{MIN_TEMPERATURE}, {MAX_TEMPERATURE}]")


def choose_index(log_weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per row, drawn from the softmax of ``log_weights`` (B, K)."""
    probs = np.exp(log_weights - log_weights.max(axis=-1, keepdims=True))
    cumulative = np.cumsum(probs, axis=-1)
    u = rng.random(len(probs))[:, None] * cumulative[:, -1:]
    return np.minimum((cumulative <= u).sum(axis=-1), probs.shape[-1] - 1)


def sample_step(
    mix: Mixture, temperature: float, rng: np.random.Generator, pen_temperature: float = PEN_TEMPERATURE
) -> np.ndarray:
    """Draw one stroke-5 point per row from the last step's mixture; returns (B, 5).

    ``pen_temperature`` divides the pen logits alone (see the module docstring). With a joint
    head the pen comes from the same component as the offset.
    """
    rows = np.arange(len(mix.log_pi))
    component = choose_index(mix.log_pi[:, -1] / temperature, rng)
    pick = lambda a: a[rows, -1, component]  # noqa: E731
    s = math.sqrt(temperature)
    mu_x, mu_y = pick(mix.mu_x), pick(mix.mu_y)
    sigma_x, sigma_y, rho = pick(mix.sigma_x) * s, pick(mix.sigma_y) * s, pick(mix.rho)
    z1, z2 = rng.standard_normal((2, len(rows)), dtype=np.float32)
    pen_logits = mix.pen_logits[:, -1]
    if mix.component_pen_logits is not None:  # joint head: the chosen component's pen
        pen_logits = mix.component_pen_logits[rows, -1, component]
    pen = choose_index(pen_logits / pen_temperature, rng)
    point = np.zeros((len(rows), 5), dtype=np.float32)
    point[:, 0] = mu_x + sigma_x * z1
    point[:, 1] = mu_y + sigma_y * (rho * z1 + np.sqrt(1 - rho**2) * z2)
    point[rows, 2 + pen] = 1.0
    return point


def sample(
    decoder: Decoder,
    n: int,
    *,
    scale: float,
    temperature: float = 0.5,
    seed: int | None = None,
    class_index: int = 0,
    max_len: int = 250,
    prefix: np.ndarray | None = None,
    pen_temperature: float = PEN_TEMPERATURE,
    z: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Sample ``n`` sketches; returns float32 stroke-3 arrays in data units, no start row.

    ``decoder``: a ``decoders.TransformerDecoder`` or ``decoders.MagentaDecoder``.
    ``prefix`` (stroke-3, data units, no start row) is a partial sketch the model continues;
    the returned sketches include it unchanged. ``z``: latent codes of a conditional model,
    (n, latent_size), or one (latent_size,) for all n; without, a conditional model draws
    them from the prior N(0, I), as Sketch-RNN does to generate without an input sketch.
    Batches of at most ``CACHE_BUDGET_BYTES`` of cache are drawn one after another from the
    same random stream. A non-finite model output raises ``SampleError``.
    """
    check_temperature(temperature)
    check_temperature(pen_temperature)
    rng = np.random.default_rng(seed)
    if z is None and decoder.latent_size:
        z = rng.standard_normal((n, decoder.latent_size), dtype=np.float32)
    if z is not None:
        z = np.ascontiguousarray(np.broadcast_to(np.asarray(z, dtype=np.float32), (n, np.shape(z)[-1])))
    batch = max(1, min(MAX_BATCH, CACHE_BUDGET_BYTES // max(1, decoder.cache_bytes_per_sequence)))
    sketches = []
    for first in range(0, n, batch):
        rows = slice(first, min(n, first + batch))
        sketches += _sample_batch(
            decoder,
            rows.stop - rows.start,
            scale,
            temperature,
            pen_temperature,
            rng,
            class_index,
            max_len,
            prefix,
            None if z is None else z[rows],
        )
    return sketches


def _sample_batch(
    decoder,
    n: int,
    scale: float,
    temperature: float,
    pen_temperature: float,
    rng: np.random.Generator,
    class_index: int,
    max_len: int,
    prefix: np.ndarray | None,
    z: np.ndarray | None,
) -> list[np.ndarray]:
    """``n`` sketches drawn together, sharing one cache."""
    classes = np.full(n, class_index, dtype=np.int64)
    start = np.broadcast_to(START_TOKEN, (n, 1, 5))
    if prefix is not None and len(prefix):
        points = to_stroke5(np.asarray(prefix, dtype=np.float32))[:-1]
        points[:, :2] /= scale
        start = np.concatenate([start, np.broadcast_to(points, (n, *points.shape))], axis=1)
    max_len = min(max_len, decoder.block_size - 1)
    length = start.shape[1] - 1
    drawn = np.tile(END_POINT, (n, max(max_len, length), 1))
    drawn[:, :length] = start[:, 1:]
    rows = np.arange(n)  # the sketch each row of the cache draws
    drawing = np.ones(n, dtype=bool)  # per cache row: not ended yet
    cache = decoder.new_cache(n)
    mix = decoder.forward(start, classes, cache, z=z)
    while length < max_len:
        _check_finite(mix, length)
        point = sample_step(mix, temperature, rng, pen_temperature)
        if not np.isfinite(point[drawing]).all():
            raise SampleError(
                f"the model drew a non-finite offset at point {length + 1} (overflow): its weights are corrupted"
            )
        drawn[rows[drawing], length] = point[drawing]
        length += 1
        drawing &= point[:, 2 + PEN_END] == 0
        if not drawing.any() or length >= max_len:
            break
        if drawing.sum() <= COMPACT_FRACTION * len(rows):  # stop computing ended sketches
            cache.keep(np.flatnonzero(drawing))
            rows, point, drawing = rows[drawing], point[drawing], drawing[drawing]
        point[~drawing] = END_POINT
        mix = decoder.forward(point[:, None], classes[rows], cache, z=None if z is None else z[rows])
    sketches = [stroke5_to_sketch(s, scale) for s in drawn[:, :length]]
    if not all(np.isfinite(sketch).all() for sketch in sketches):
        raise SampleError("the model drew offsets too large for float32: its weights are corrupted")
    if prefix is not None and len(prefix):  # exactly as given, not through the scale and back
        for sketch in sketches:
            sketch[: len(prefix)] = prefix
    return sketches


def _check_finite(mix: Mixture, length: int) -> None:
    """The last step's mixture must be finite: NaN weights would otherwise draw NaN sketches silently."""
    for name in ("log_pi", "mu_x", "mu_y", "sigma_x", "sigma_y", "rho", "pen_logits"):
        if not np.isfinite(getattr(mix, name)[:, -1]).all():
            raise SampleError(f"the model's {name} is NaN or infinite at point {length + 1}: its weights are corrupted")


def stroke5_to_sketch(stroke5: np.ndarray, scale: float) -> np.ndarray:
    """A drawn stroke-5 array (model units) as a stroke-3 sketch in data units, cut at the end
    point; the last real point always ends its stroke."""
    end = np.flatnonzero(stroke5[:, 2 + PEN_END] > 0)
    stroke5 = stroke5[: end[0]] if len(end) else stroke5
    out = np.zeros((len(stroke5), 3), dtype=np.float32)
    out[:, :2] = stroke5[:, :2] * scale
    out[:, 2] = stroke5[:, 2 + PEN_LIFT]
    if len(out):
        out[-1, 2] = 1.0
    return out
