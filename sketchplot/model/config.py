"""The model's architecture and output, free of torch.

Inference (sampling, evaluation, drawing) runs on numpy; only training needs torch, whose
import alone costs over a second. Everything both sides share lives here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

PEN_DRAW, PEN_LIFT, PEN_END = 0, 1, 2
# Sampling temperature of the pen state alone (see sketchplot.model.sample for the measurement).
PEN_TEMPERATURE = 1.0
# Candidates sampled per sketch, of which the sketch classifier keeps the most recognisable:
# sampling takes milliseconds and plotting minutes. Four lifted every class's recognisability
# and lowered its FID (MODELS.md), and a page of 12 still samples in under 50 ms a sketch.
BEST_OF = 4

# What a model config may ask for: generous for any model one trains on a sketch data set, and
# small enough that building or sampling it never costs more than a few GiB. Beyond them a
# config is a corrupted or hostile file, not a bigger model.
SIZE_LIMITS = {
    "n_layer": (1, 64),
    "n_head": (1, 64),
    "n_embd": (1, 4096),
    "block_size": (2, 4097),
    "n_mixture": (1, 256),
    "n_classes": (1, 10_000),
    "latent_size": (0, 4096),
    "encoder_layers": (0, 64),
    "attention_window": (0, 4097),
    "latent_tokens": (0, 256),
}
CHOICES = {"sigma_activation": ("elu", "exp"), "pen_loss": ("ce", "focal"), "pen_head": ("independent", "joint")}


def attention_allowed(t: int, start: int, window: int) -> np.ndarray:
    """(t, start + t) True where decoder query i (position start + i) may look at key j: no
    later key, and with an attention window (> 0) none window or more points back."""
    lag = (start + np.arange(t))[:, None] - np.arange(start + t)[None, :]
    return (lag >= 0) & (lag < window) if window else lag >= 0


def latent_token_of_point(position, length, tokens: int):
    """Which latent token (0 to max(tokens, 1) - 1) point ``position`` of a sketch of ``length``
    points feeds: the points cut into that many runs as even as can be, in drawing order
    (padding after the sketch lands in the last, and is masked out). Integer numpy arrays or
    torch tensors, broadcast together: the encoder's rule on both sides."""
    tokens = max(tokens, 1)
    return ((position * tokens) // length.clip(min=1)).clip(max=tokens - 1)


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
    pen_loss: str = "ce"  # "ce" or "focal" (gamma focal_gamma); CE measured better: bench/model_ablation.py
    focal_gamma: float = 2.0
    # "independent": Sketch-RNN's head, one pen distribution beside the offset mixture;
    # "joint": each mixture component carries its own pen distribution (MODELS.md compares them).
    pen_head: str = "independent"
    # Conditional VAE (Sketch-RNN's seq2seq): latent_size > 0 adds a bidirectional transformer
    # encoder of encoder_layers blocks whose latent code z conditions every decoder step.
    latent_size: int = 0
    encoder_layers: int = 2
    # > 0: mu is batch-normalised across sketches and scaled to this spread (BN-VAE, Zhu et al.
    # 2020). Without it a strong decoder learns to ignore z and every sketch gets the same code
    # (measured: MODELS.md); with it the codes of different sketches always differ.
    mu_norm_scale: float = 0.0
    # Also embed each input point's absolute position (the running sum of the offsets): attention
    # can only estimate that sum, and a continuation must know where the pen is (MODELS.md).
    absolute_position: bool = False
    # > 0: each decoder layer attends only to its last attention_window inputs, so a step sees
    # n_layer * (attention_window - 1) points back; what was drawn before reaches it only through
    # z, the absolute position and the step's index: a decoder that cannot look back over the
    # whole sketch has to read the code. 0: all.
    attention_window: int = 0
    # > 0: the encoder pools each of latent_tokens runs of consecutive points into its own
    # part of z (latent_size / latent_tokens values), and the decoder reads the parts as that
    # many tokens before the start token, which every step attends to in every layer. A
    # single code added to the inputs is read for the first points only (MODELS.md); parts
    # tied to stretches of the drawing tell each step what its own stretch looked like.
    # 0: one code added to every input.
    latent_tokens: int = 0

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """ValueError naming the first field out of type or range: a model file's config is
        checked before anything is built from it (``n_layer = 10**6`` would take minutes)."""
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.name in SIZE_LIMITS:
                low, high = SIZE_LIMITS[spec.name]
                if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                    raise ValueError(f"{spec.name} must be an integer from {low} to {high}, not {value!r}")
            elif spec.name in CHOICES:
                if value not in CHOICES[spec.name]:
                    raise ValueError(f"{spec.name} must be one of {', '.join(CHOICES[spec.name])}, not {value!r}")
            elif spec.type == "bool":
                if not isinstance(value, bool):
                    raise ValueError(f"{spec.name} must be true or false, not {value!r}")
            elif (
                not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0
            ):
                raise ValueError(f"{spec.name} must be a finite number >= 0, not {value!r}")
        if self.dropout >= 1:
            raise ValueError(f"dropout must be below 1, not {self.dropout!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")
        if self.latent_tokens and (not self.conditional or self.latent_size % self.latent_tokens):
            raise ValueError(
                f"latent_size ({self.latent_size}) must be a positive multiple of latent_tokens ({self.latent_tokens})"
            )
        if self.latent_tokens and self.attention_window:
            raise ValueError("latent_tokens and attention_window cannot be combined: a window would hide the tokens")
        if self.pen_head == "joint" and self.pen_loss != "ce":
            raise ValueError("the joint pen head trains with pen_loss 'ce' only")

    @property
    def conditional(self) -> bool:
        return self.latent_size > 0

    @property
    def latent_part(self) -> int:
        """How many values of z each latent token carries (all of them without tokens)."""
        return self.latent_size // self.latent_tokens if self.latent_tokens else self.latent_size

    @property
    def head_size(self) -> int:
        pen = 3 * self.n_mixture if self.pen_head == "joint" else 3
        return 6 * self.n_mixture + pen

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Mixture:
    """Parameters of the next-point distribution, each (..., M) except pen_logits (..., 3).

    ``pen_logits`` are always the pen's marginal distribution (as logits). A joint head also
    gives each component's own pen logits in ``component_pen_logits`` (..., M, 3).

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
    component_pen_logits: Any = None
