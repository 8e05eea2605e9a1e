"""Test-set likelihood of a sketch model, in units that make different models comparable.

Units: offsets are measured in units of the evaluation data's own train-split standard
deviation (Sketch-RNN's normalisation), whatever scale the model was trained with. Each model
reads the data in its own units (``input_scale``: our model's stored scale; for a Magenta
model the data's std, because its scale_factor is in the pixel units of Google's larger
drawings) and the change of units is exact: a density in units ``s_m`` becomes a density in
units ``s_d`` by adding ``2 log(s_d / s_m)`` to the log-likelihood of each offset.

Reported (all natural-log, per sketch-then-averaged where the paper does so):
- ``offset_nll``: mean -log p(dx, dy) over real points (the end-of-sketch point has no offset);
- ``pen_ce``: mean pen cross-entropy over real points including the end point (always the
  true cross-entropy, even for a model trained with focal loss; for a joint pen head the pen
  given the point's offset, so that offset_nll + pen_ce is the joint NLL for either head);
- ``nll``: offset_nll + pen_ce, the validation loss of a cross-entropy model;
- ``l_r``: the Sketch-RNN paper's reconstruction loss: per sketch, the offset NLL summed over
  its points plus the pen cross-entropy over all N_max steps (padding with the end state
  included), both divided by N_max = ``max_seq_len``; averaged over sketches.
- ``l_kl`` (conditional models): the paper's KL term, KL(q(z | sketch) || N(0, I)) averaged
  over the latent dimensions and sketches; the decoder then reads a z drawn from q (seeded),
  as in training, so ``l_r`` is the reconstruction term of the ELBO.
The first point of every sketch is scored as an offset from the origin: row 0 (the absolute
start) is dropped for every model alike.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sketchplot.core.formats import read_stroke3_file
from sketchplot.model.config import PEN_END
from sketchplot.model.data import DataError, make_batch, offset_scale, prepare
from sketchplot.model.decoders import Decoder, TransformerEncoder
from sketchplot.model.mixture import kl_divergence, point_log_likelihood

SAMPLE_SEED = 0  # the latent noise of a conditional model's evaluation


@dataclass
class EvalResult:
    nll: float
    offset_nll: float
    pen_ce: float
    l_r: float
    n_sketches: int
    n_points: int
    max_seq_len: int
    unit_scale: float
    input_scale: float
    l_kl: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def score_sketches(
    decoder: Decoder,
    sketches: list[np.ndarray],
    *,
    class_index: int = 0,
    input_scale: float,
    unit_scale: float,
    max_seq_len: int,
    batch_size: int = 64,
    encoder: TransformerEncoder | None = None,
    codes: np.ndarray | None = None,
) -> EvalResult:
    """Likelihood metrics of prepared stroke-3 sketches (no start row, <= max_seq_len points);
    a conditional model's ``encoder`` (``decoders.TransformerEncoder``) adds ``l_kl``, its
    latent codes drawn from each sketch's posterior, unless ``codes`` gives every sketch's."""
    if not sketches:
        raise ValueError("no sketches to evaluate")
    log_jacobian = 2.0 * math.log(unit_scale / input_scale)
    offset_sum = pen_sum = l_r_sum = kl_sum = 0.0
    n_offsets = n_pen = 0
    rng = np.random.default_rng(SAMPLE_SEED)
    for start in range(0, len(sketches), batch_size):
        chunk = sketches[start : start + batch_size]
        batch = make_batch(chunk, [class_index] * len(chunk), input_scale, pad_to=max_seq_len + 1)
        z = None if codes is None else codes[start : start + batch_size]
        if encoder is not None and codes is None:
            lengths = int(batch.mask.sum(1).max())
            mu, sigma_hat = encoder.encode(batch.targets[:, :lengths], batch.mask[:, :lengths])
            z = mu + np.exp(sigma_hat / 2) * rng.standard_normal(mu.shape, dtype=np.float32)
            kl_sum += float(kl_divergence(mu, sigma_hat).sum(dtype=np.float64))
        mix = decoder.forward(batch.inputs, batch.classes, z=z)
        offset_mask = batch.mask * (batch.targets[..., 2:].argmax(-1) != PEN_END)
        offset_log_p, pen_log_p = point_log_likelihood(mix, batch.targets)
        offset_nll, pen_ce = -(offset_log_p + log_jacobian), -pen_log_p
        offset_nll = np.where(offset_mask > 0, offset_nll, 0.0)
        offset_sum += float(offset_nll.sum(dtype=np.float64))
        pen_sum += float((pen_ce * batch.mask).sum(dtype=np.float64))
        n_offsets += int(offset_mask.sum())
        n_pen += int(batch.mask.sum())
        # Paper's L_R: N_max target steps per sketch, padding (end state) included.
        l_r = (offset_nll[:, :max_seq_len].sum(1) + pen_ce[:, :max_seq_len].sum(1)) / max_seq_len
        l_r_sum += float(l_r.sum(dtype=np.float64))
    offset_mean, pen_mean = offset_sum / n_offsets, pen_sum / n_pen
    return EvalResult(
        nll=offset_mean + pen_mean,
        offset_nll=offset_mean,
        pen_ce=pen_mean,
        l_r=l_r_sum / len(sketches),
        n_sketches=len(sketches),
        n_points=n_offsets,
        max_seq_len=max_seq_len,
        unit_scale=unit_scale,
        input_scale=input_scale,
        l_kl=kl_sum / len(sketches) if encoder is not None else None,
    )


def data_unit_scale(path: str | Path, max_seq_len: int) -> float:
    """The std of the data file's train split (Sketch-RNN's normalising factor)."""
    train = prepare(read_stroke3_file(path, "train"), max_seq_len)
    if not train:
        raise DataError(f"{path}: no 'train' sketches of at most {max_seq_len} points to set the units")
    return offset_scale(train)


def evaluate_file(
    decoder: Decoder,
    model_scale: float | None,
    path: str | Path,
    *,
    split: str = "test",
    class_index: int = 0,
    max_seq_len: int = 250,
    batch_size: int = 64,
    limit: int | None = None,
    encoder: TransformerEncoder | None = None,
) -> EvalResult:
    """Score one split of a data file. ``model_scale`` None: the model reads data-std units
    (Magenta models, whose scale_factor belongs to differently scaled data)."""
    sketches = prepare(read_stroke3_file(path, split), max_seq_len)[:limit]
    if not sketches:
        raise DataError(f"{path}: no '{split}' sketches of at most {max_seq_len} points")
    unit_scale = data_unit_scale(path, max_seq_len)
    return score_sketches(
        decoder,
        sketches,
        class_index=class_index,
        input_scale=model_scale or unit_scale,
        unit_scale=unit_scale,
        max_seq_len=max_seq_len,
        batch_size=batch_size,
        encoder=encoder,
    )
