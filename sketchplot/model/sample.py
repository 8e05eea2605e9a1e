"""Sampling sketches from a trained model, batched, with a key/value cache.

Temperature follows Sketch-RNN: mixture weights and pen logits are divided by tau and the
sigmas scaled by sqrt(tau), so low temperatures give tidy, typical drawings and high ones
wilder strokes.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sketchplot.errors import SketchplotError
from sketchplot.model.data import START_TOKEN
from sketchplot.model.net import PEN_END, PEN_LIFT, Mixture

MIN_TEMPERATURE, MAX_TEMPERATURE = 0.01, 2.0


def check_temperature(temperature: float) -> None:
    if not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE or math.isnan(temperature):
        raise SketchplotError(
            f"temperature {temperature} out of range [{MIN_TEMPERATURE}, {MAX_TEMPERATURE}]"
        )


def sample_step(
    mix: Mixture, temperature: float, generator: torch.Generator, pen_temperature: float | None = None
) -> torch.Tensor:
    """Draw one stroke-5 point per row from the last step's mixture; returns (B, 5).

    ``pen_temperature`` (default: ``temperature``, as in Sketch-RNN) divides the pen logits
    alone: cooling the pen makes the rare end-of-sketch state rarer still, so a model trained
    with cross-entropy draws overlong sketches at low temperature (bench/pen_loss_ablation.py).
    """
    log_pi = mix.log_pi[:, -1] / temperature
    component = torch.multinomial(torch.softmax(log_pi, -1), 1, generator=generator)
    pick = lambda t: t[:, -1].gather(-1, component).squeeze(-1)  # noqa: E731
    mu_x, mu_y = pick(mix.mu_x), pick(mix.mu_y)
    s = math.sqrt(temperature)
    sigma_x, sigma_y, rho = pick(mix.sigma_x) * s, pick(mix.sigma_y) * s, pick(mix.rho)
    z1, z2 = torch.randn(2, len(mu_x), generator=generator)
    dx = mu_x + sigma_x * z1
    dy = mu_y + sigma_y * (rho * z1 + torch.sqrt(1 - rho**2) * z2)
    pen_probs = torch.softmax(mix.pen_logits[:, -1] / (pen_temperature or temperature), -1)
    pen = torch.multinomial(pen_probs, 1, generator=generator).squeeze(-1)
    point = torch.zeros(len(dx), 5)
    point[:, 0], point[:, 1] = dx, dy
    point[torch.arange(len(dx)), 2 + pen] = 1.0
    return point


@torch.no_grad()
def sample(
    net,
    n: int,
    *,
    scale: float,
    temperature: float = 0.5,
    seed: int | None = None,
    class_index: int = 0,
    max_len: int = 250,
    prefix: np.ndarray | None = None,
    pen_temperature: float | None = None,
) -> list[np.ndarray]:
    """Sample ``n`` sketches; returns float32 stroke-3 arrays in data units, no start row.

    ``prefix`` (stroke-3, data units, no start row) is a partial sketch the model continues;
    the returned sketches include it.
    """
    check_temperature(temperature)
    if pen_temperature is not None:
        check_temperature(pen_temperature)
    generator = torch.Generator().manual_seed(seed if seed is not None else int(torch.seed() % 2**63))
    net.eval()
    classes = torch.full((n,), class_index, dtype=torch.long)
    start = torch.from_numpy(START_TOKEN).expand(n, 1, 5)
    if prefix is not None and len(prefix):
        from sketchplot.model.data import to_stroke5

        points = torch.from_numpy(to_stroke5(np.asarray(prefix, dtype=np.float32))[:-1])
        points[:, :2] /= scale
        start = torch.cat([start, points.expand(n, -1, -1)], dim=1)
    max_len = min(max_len, net.cfg.block_size - 1)
    mix, caches = net(start, classes)
    drawn = [start[:, 1:]]
    done = torch.zeros(n, dtype=torch.bool)
    for step in range(start.shape[1] - 1, max_len):
        point = sample_step(mix, temperature, generator, pen_temperature)
        point[done] = torch.tensor([0, 0, 0, 0, 1.0])
        drawn.append(point[:, None])
        done |= point[:, 2 + PEN_END] > 0
        if done.all() or step + 1 >= max_len:
            break
        mix, caches = net(point[:, None], classes, caches, start_pos=step + 1)
    strokes = torch.cat(drawn, dim=1).numpy()
    return [_to_stroke3(s, scale) for s in strokes]


def _to_stroke3(stroke5: np.ndarray, scale: float) -> np.ndarray:
    """Cut at the end point; the last real point always ends its stroke."""
    end = np.flatnonzero(stroke5[:, 2 + PEN_END] > 0)
    stroke5 = stroke5[: end[0]] if len(end) else stroke5
    out = np.zeros((len(stroke5), 3), dtype=np.float32)
    out[:, :2] = stroke5[:, :2] * scale
    out[:, 2] = stroke5[:, 2 + PEN_LIFT]
    if len(out):
        out[-1, 2] = 1.0
    return out


def with_origin(sketch: np.ndarray) -> np.ndarray:
    """Stroke-3 with a zero start row prepended, for plotting a sample.

    A sample starts at the origin but has no start row, and a stroke-3 reader (the plot
    pipeline) treats the first row as a move to the first point, which would lose the first
    point of the first stroke. The zero row puts that point back at the origin.
    """
    return np.vstack([np.zeros((1, 3), dtype=sketch.dtype), sketch])
