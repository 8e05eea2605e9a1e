"""The model's architecture and output, free of torch.

Inference (sampling, evaluation, drawing) runs on numpy; only training needs torch, whose
import alone costs over a second. Everything both sides share lives here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

PEN_DRAW, PEN_LIFT, PEN_END = 0, 1, 2
# Sampling temperature of the pen state alone (see sketchplot.model.sample for the measurement).
PEN_TEMPERATURE = 1.0


@dataclass
class ModelConfig:
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.1
    block_size: int = 251  # max_seq_len points + the start token
    n_mixture: int = 20
    n_classes: int = 1
    sigma_activation: str = "elu"  # "elu" (ELU + 1 + sigma_floor) or "exp"
    sigma_floor: float = 1e-3
    pen_loss: str = "ce"  # "ce" or "focal" (gamma focal_gamma); CE measured better: bench/pen_loss_ablation.py
    focal_gamma: float = 2.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Mixture:
    """Parameters of the next-point distribution, each (..., M) except pen_logits (..., 3).

    numpy arrays from the inference decoders (``sketchplot.model.decoders``), torch tensors
    from the training model (``sketchplot.model.net``).
    """

    log_pi: Any
    mu_x: Any
    mu_y: Any
    sigma_x: Any
    sigma_y: Any
    rho: Any
    pen_logits: Any
