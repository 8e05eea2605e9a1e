"""Inference decoders on numpy: our transformer and Magenta's LSTM, behind one interface.

Sampling a sketch is hundreds of steps of small matrix products, where each torch operation
costs more in dispatch than in arithmetic, and ``import torch`` alone costs over a second of
a one-sketch ``sketchplot draw``. numpy does the same float32 maths with far less overhead, so
inference never imports torch; training keeps the torch model (``sketchplot.model.net``),
whose weights these decoders read by name.

The interface the sampler and the evaluator use is ``Decoder`` below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sketchplot.model.config import Mixture, ModelConfig, attention_allowed, latent_token_of_point

LAYER_NORM_EPS = 1e-5  # torch.nn.LayerNorm's default
RHO_SCALE = 0.999  # keeps 1 - rho^2 away from 0, as in the torch model
MAGENTA_RHO_LIMIT = 1.0 - 1e-6  # tanh saturates to exactly 1 in float32; keeps the likelihood finite
MAGENTA_FORGET_BIAS = 1.0  # tf.basicLSTMCell's, added to the forget gate


class DecoderCache(Protocol):
    def keep(self, rows: np.ndarray) -> None:
        """Drop every sequence but ``rows`` (the sampler drops sketches that have ended)."""


class Decoder(Protocol):
    """What the sampler and the evaluator need of a decoder: ``TransformerDecoder`` and
    ``MagentaDecoder`` both are one."""

    block_size: int  # the most points (start token included) one sequence may have
    latent_size: int  # the size of the latent code z a conditional model reads (0: none)

    @property
    def cache_bytes_per_sequence(self) -> int:
        """What one sequence's cache costs (the sampler batches by it)."""

    def new_cache(self, batch: int) -> DecoderCache:
        """An empty cache for incremental decoding of ``batch`` sequences."""

    def forward(
        self,
        strokes: np.ndarray,
        classes: np.ndarray | None,
        cache: DecoderCache | None = None,
        z: np.ndarray | None = None,
    ) -> Mixture:
        """The next-point mixture after every input point of ``strokes`` (B, T, 5). Without a
        cache the T points are a whole sequence from its start; with one they continue what the
        cache holds, and are appended to it. ``z``: the latent codes of a conditional model."""


def log_softmax(x: np.ndarray) -> np.ndarray:
    """Over the last axis, shifted by the maximum so that exp cannot overflow."""
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _linear(x: np.ndarray, weight_t: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """x @ weight_t + bias over the last axis as one 2-D product: numpy multiplies a 3-D
    (B, 1, C) by a matrix as B separate vector products, twice as slow."""
    flat = x.reshape(-1, x.shape[-1]) @ weight_t
    flat += bias
    return flat.reshape(*x.shape[:-1], weight_t.shape[1])


def _normalise(x: np.ndarray) -> np.ndarray:
    """LayerNorm without its scale and shift (folded into the next linear map). Sums rather
    than ``mean``, whose Python wrapper costs more than the reduction on a step's rows."""
    width = np.float32(x.shape[-1])
    centred = x - x.sum(axis=-1, keepdims=True) / width
    var = np.vecdot(centred, centred)[..., None] / width
    centred /= np.sqrt(var + np.float32(LAYER_NORM_EPS))
    return centred


# erf as a rational function, Eigen's float32 erf (generic_fast_erf_float): within 5e-7 of erf
# everywhere (a few float32 ulps; tests/model/test_decoders.py), several times faster than
# scipy.special.erf, which computes in float64 and is the largest cost of a step's GELU.
_ERF_NUMERATOR = tuple(
    np.float32(a)
    for a in (
        -2.72614225801306e-10,
        2.77068142495902e-08,
        -2.10102402082508e-06,
        -5.69250639462346e-05,
        -7.34990630326855e-04,
        -2.95459980854025e-03,
        -1.60960333262415e-02,
    )
)
_ERF_DENOMINATOR = tuple(
    np.float32(b)
    for b in (
        -1.45660718464996e-05,
        -2.13374055278905e-04,
        -1.68282697438203e-03,
        -7.37332916720468e-03,
        -1.42647390514189e-02,
    )
)


def erf(x: np.ndarray) -> np.ndarray:
    """erf of a float32 array to float32 precision (beyond |x| = 4 it rounds to +-1)."""
    x = np.clip(x, np.float32(-4), np.float32(4))
    x2 = x * x
    p = x2 * _ERF_NUMERATOR[0]
    for a in _ERF_NUMERATOR[1:-1]:
        p += a
        p *= x2
    p += _ERF_NUMERATOR[-1]
    q = x2 * _ERF_DENOMINATOR[0]
    for b in _ERF_DENOMINATOR[1:-1]:
        q += b
        q *= x2
    q += _ERF_DENOMINATOR[-1]
    p *= x
    p /= q
    return p


def _gelu_scaled(z: np.ndarray) -> np.ndarray:
    """z (1 + erf(z)): GELU of u = z sqrt(2), times sqrt(2) (folded into the next linear map)."""
    gelu = erf(z)
    gelu += np.float32(1)
    gelu *= z
    return gelu


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) written through tanh, which cannot overflow for large negative x."""
    return 0.5 + 0.5 * np.tanh(0.5 * x)


def _block_shapes(prefix: str, c: int) -> dict[str, tuple[int, ...]]:
    hidden = 4 * c
    p = prefix
    return {
        p + "ln1.weight": (c,),
        p + "ln1.bias": (c,),
        p + "attn.qkv.weight": (3 * c, c),
        p + "attn.qkv.bias": (3 * c,),
        p + "attn.proj.weight": (c, c),
        p + "attn.proj.bias": (c,),
        p + "ln2.weight": (c,),
        p + "ln2.bias": (c,),
        p + "mlp.0.weight": (hidden, c),
        p + "mlp.0.bias": (hidden,),
        p + "mlp.2.weight": (c, hidden),
        p + "mlp.2.bias": (c,),
    }


def transformer_weight_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every weight of ``net.SketchTransformer`` (its state-dict names)."""
    c = cfg.n_embd
    shapes = {
        "offset_embed.weight": (c, 2),
        "offset_embed.bias": (c,),
        "pen_embed.weight": (3, c),
        "pos_embed.weight": (cfg.block_size, c),
        "class_embed.weight": (max(cfg.n_classes, 1), c),
    }
    for i in range(cfg.n_layer):
        shapes |= _block_shapes(f"blocks.{i}.", c)
    shapes |= {"ln_f.weight": (c,), "ln_f.bias": (c,), "head.weight": (cfg.head_size, c), "head.bias": (cfg.head_size,)}
    if cfg.absolute_position:
        shapes |= {"position_embed.weight": (c, 2), "position_embed.bias": (c,)}
    if cfg.conditional:
        shapes |= {
            "latent_embed.weight": (c, cfg.latent_part),
            "latent_embed.bias": (c,),
            "encoder.offset_embed.weight": (c, 2),
            "encoder.offset_embed.bias": (c,),
            "encoder.pen_embed.weight": (3, c),
            "encoder.pos_embed.weight": (cfg.block_size, c),
            "encoder.ln_f.weight": (c,),
            "encoder.ln_f.bias": (c,),
            "encoder.head.weight": (2 * cfg.latent_part, c),
            "encoder.head.bias": (2 * cfg.latent_part,),
        }
        if cfg.latent_tokens:
            shapes["latent_token_embed.weight"] = (cfg.latent_tokens, c)
        for i in range(cfg.encoder_layers):
            shapes |= _block_shapes(f"encoder.blocks.{i}.", c)
        if cfg.mu_norm_scale > 0:
            shapes |= {
                "encoder.mu_norm.running_mean": (cfg.latent_size,),
                "encoder.mu_norm.running_var": (cfg.latent_size,),
            }
    return shapes


def check_transformer_weights(cfg: ModelConfig, weights: dict[str, np.ndarray]) -> None:
    """ValueError naming the first difference between ``weights`` and what ``cfg`` needs."""
    expected = transformer_weight_shapes(cfg)
    missing, unexpected = sorted(set(expected) - set(weights)), sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise ValueError(f"missing weights {missing[:3]}, unexpected weights {unexpected[:3]}")
    for name, shape in expected.items():
        if tuple(weights[name].shape) != shape:
            raise ValueError(f"{name} has shape {tuple(weights[name].shape)}, the config needs {shape}")


class KVCache:
    """Keys and values of every layer, preallocated for ``capacity`` steps, filled in place.

    One buffer laid out (layer, key or value, batch, head, step, head_dim): the steps of one
    head are contiguous, the layout the attention's small matrix products read fastest, and
    a step writes a layer's keys and values in one assignment. Filled in place: a cache
    serves one continuation only.
    """

    def __init__(self, n_layer: int, batch: int, n_head: int, head_dim: int, capacity: int):
        self.kv = np.empty((n_layer, 2, batch, n_head, capacity, head_dim), dtype=np.float32)
        self.length = 0
        self.pen_position = np.zeros((batch, 2), dtype=np.float32)  # sum of the offsets so far

    def keep(self, rows: np.ndarray) -> None:
        """Keep only these sequences (batch rows, increasing), e.g. drop the sketches that have
        ended; moved within the buffer, which would cost more to reallocate than to reuse."""
        self.kv[:, :, : len(rows), :, : self.length] = self.kv[:, :, rows, :, : self.length]
        self.kv = self.kv[:, :, : len(rows)]
        self.pen_position = self.pen_position[rows]


@dataclass
class _Block:
    """One transformer block's linear maps as (weight transposed, bias): x @ w + b."""

    qkv: tuple[np.ndarray, np.ndarray]  # ln1's scale and shift and 1/sqrt(head_dim) of q folded in
    proj: tuple[np.ndarray, np.ndarray]
    fc: tuple[np.ndarray, np.ndarray]  # ln2's scale and shift and GELU's 1/sqrt(2) folded in
    fc_out: tuple[np.ndarray, np.ndarray]  # GELU's 0.5 * sqrt(2) folded in


class _FoldedWeights:
    """A state dict in float64 with constants folded into linear maps, rounded to float32.

    A sampling step is many small operations, so constant factors are folded into the weights
    once: each LayerNorm's scale and shift into the linear map after it, the attention's
    1/sqrt(head_dim) into the queries, and GELU's constants into the MLP, which computes
    gelu(u) @ W2 = z (1 + erf(z)) @ (W2 sqrt(2) / 2) with z = u / sqrt(2).
    """

    def __init__(self, weights: dict[str, np.ndarray]):
        self.w = {name: np.asarray(value, dtype=np.float64) for name, value in weights.items()}

    def linear(self, name, norm=None, in_scale=1.0, out_scale=1.0):
        w = self.w
        weight_t, bias = w[name + ".weight"].T * in_scale, w[name + ".bias"]
        if norm is not None:  # (x_hat * g + s) @ W + b = x_hat @ (g W) + (s @ W + b)
            bias = w[norm + ".bias"] @ weight_t + bias
            weight_t = w[norm + ".weight"][:, None] * weight_t
        return (
            np.ascontiguousarray(weight_t * out_scale, dtype=np.float32),
            np.asarray(bias * out_scale, dtype=np.float32),
        )

    def block(self, prefix: str, c: int, n_head: int) -> _Block:
        query_scale = np.ones(3 * c)
        query_scale[:c] = 1 / math.sqrt(c // n_head)
        return _Block(
            qkv=self.linear(prefix + "attn.qkv", prefix + "ln1", out_scale=query_scale),
            proj=self.linear(prefix + "attn.proj"),
            fc=self.linear(prefix + "mlp.0", prefix + "ln2", out_scale=1 / math.sqrt(2)),
            fc_out=self.linear(prefix + "mlp.2", in_scale=math.sqrt(2) / 2),
        )

    def array(self, name: str) -> np.ndarray:
        return self.w[name].astype(np.float32)


def _attention(
    x, block: _Block, n_head: int, score_bias=None, cache: KVCache | None = None, layer: int = 0, start: int = 0
):
    """Multi-head self-attention of x (B, T, C); ``score_bias`` (-inf where a query may not
    look) broadcasts to (B, H, T, keys); ``cache`` holds earlier steps' keys and values."""
    b, t, c = x.shape
    head_dim = c // n_head
    qkv = _linear(x, *block.qkv).reshape(b, t, 3, n_head, head_dim).transpose(2, 0, 3, 1, 4)
    q, kv = qkv[0], qkv[1:]  # (B, H, T, D), (2, B, H, T, D)
    if cache is not None:
        cache.kv[layer, :, :, :, start : start + t] = kv
        kv = cache.kv[layer, :, :, :, : start + t]
    scores = q @ kv[0].swapaxes(-1, -2)  # (B, H, T, keys), already divided by sqrt(head_dim)
    if score_bias is not None:
        scores += score_bias
    scores -= scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores, out=scores)
    y = weights @ kv[1]
    y /= weights.sum(axis=-1, keepdims=True)  # the softmax's normaliser, on D values, not T
    return _linear(y.transpose(0, 2, 1, 3).reshape(b, t, c), *block.proj)


def _causal_bias(t: int, start: int, window: int) -> np.ndarray | None:
    """-inf where a query may not look (``config.attention_allowed``), else 0; None when every
    key is allowed, as for one new step without a window."""
    if t == 1 and not window:
        return None
    allowed = attention_allowed(t, start, window)
    return None if allowed.all() else np.where(allowed, 0.0, -np.inf).astype(np.float32)


def _mlp(x, block: _Block):
    return _linear(_gelu_scaled(_linear(_normalise(x), *block.fc)), *block.fc_out)


class TransformerDecoder:
    """``net.SketchTransformer`` in inference mode (no dropout), on numpy float32, with its
    constants folded into the weights (``_FoldedWeights``). A conditional model's decoder
    takes the latent code ``z`` in ``forward``; its encoder is ``TransformerEncoder``."""

    def __init__(self, cfg: ModelConfig, weights: dict[str, np.ndarray]):
        """``weights``: the torch model's state dict as numpy arrays (any float dtype)."""
        check_transformer_weights(cfg, weights)
        folded = _FoldedWeights(weights)
        self.cfg = cfg
        self.block_size = cfg.block_size
        self.latent_size = cfg.latent_size
        self.blocks = [folded.block(f"blocks.{i}.", cfg.n_embd, cfg.n_head) for i in range(cfg.n_layer)]
        self.head = folded.linear("head", "ln_f")
        self.offset_embed = folded.linear("offset_embed")
        self.latent_embed = folded.linear("latent_embed") if cfg.conditional else None
        self.position_embed = folded.linear("position_embed") if cfg.absolute_position else None
        self.pen_embed, self.pos_embed, self.class_embed = (
            folded.array(name) for name in ("pen_embed.weight", "pos_embed.weight", "class_embed.weight")
        )
        self.tokens = cfg.latent_tokens
        self.token_embed = folded.array("latent_token_embed.weight") if self.tokens else None

    @property
    def cache_bytes_per_sequence(self) -> int:
        """Memory one sequence's key/value cache takes, for the sampler's batch size."""
        return self.cfg.n_layer * 2 * (self.block_size + self.tokens) * self.cfg.n_embd * 4

    def new_cache(self, batch: int) -> KVCache:
        cfg = self.cfg
        return KVCache(cfg.n_layer, batch, cfg.n_head, cfg.n_embd // cfg.n_head, self.block_size + self.tokens)

    def forward(
        self, strokes: np.ndarray, classes: np.ndarray, cache: KVCache | None = None, z: np.ndarray | None = None
    ) -> Mixture:
        strokes = np.asarray(strokes, dtype=np.float32)
        b, t, _ = strokes.shape
        start = cache.length if cache is not None else 0  # keys held: the latent tokens and points so far
        first = max(start - self.tokens, 0)  # the first input point's index in its sequence
        if first + t > self.block_size:
            raise ValueError(f"sequence of {first + t} points exceeds block_size {self.block_size}")
        if (z is None) == self.cfg.conditional:
            raise ValueError("a conditional model needs a latent code z, an unconditional one takes none")
        pen = strokes[..., 2:].argmax(-1)
        x = _linear(strokes[..., :2], *self.offset_embed)
        x += self.pen_embed[pen] + self.pos_embed[first : first + t]
        x += self.class_embed[np.asarray(classes)][:, None, :]
        if self.position_embed is not None:
            position = np.cumsum(strokes[..., :2], axis=1)
            if cache is not None:
                position += cache.pen_position[:, None, :]
                cache.pen_position = position[:, -1].copy()
            x += _linear(position, *self.position_embed)
        # The tokens go in once, before the start token; a z given with later cached steps of
        # a tokens model is not read again (the cache holds the tokens' keys and values).
        if self.tokens and start == 0:
            parts = np.asarray(z, dtype=np.float32).reshape(b, self.tokens, -1)
            x = np.concatenate([_linear(parts, *self.latent_embed) + self.token_embed, x], axis=1)
        elif z is not None and not self.tokens:
            x += _linear(np.asarray(z, dtype=np.float32), *self.latent_embed)[:, None, :]
        causal = _causal_bias(x.shape[1], start, self.cfg.attention_window)
        for layer, block in enumerate(self.blocks):
            x += _attention(_normalise(x), block, self.cfg.n_head, causal, cache, layer, start)
            x += _mlp(x, block)
        if cache is not None:
            cache.length = start + x.shape[1]
        return self._mixture(_linear(_normalise(x[:, x.shape[1] - t :]), *self.head))

    def _mixture(self, out: np.ndarray) -> Mixture:
        m = self.cfg.n_mixture
        s = out[..., 3 * m : 5 * m]  # both sigmas' raw values, activated together
        if self.cfg.sigma_activation == "exp":
            sigma = np.exp(s)
        else:  # ELU + 1 + floor
            sigma = np.where(s > 0, s, np.expm1(np.minimum(s, 0)))
            sigma += np.float32(1.0 + self.cfg.sigma_floor)
        log_pi = log_softmax(out[..., :m])
        pen, component_pen = out[..., 6 * m :], None
        if self.cfg.pen_head == "joint":
            component_pen = pen.reshape(*pen.shape[:-1], m, 3)
            joint = log_pi[..., None] + log_softmax(component_pen)
            top = joint.max(axis=-2)
            pen = top + np.log(np.exp(joint - top[..., None, :]).sum(axis=-2))
        return Mixture(
            log_pi=log_pi,
            mu_x=out[..., m : 2 * m],
            mu_y=out[..., 2 * m : 3 * m],
            sigma_x=sigma[..., :m],
            sigma_y=sigma[..., m:],
            rho=np.tanh(out[..., 5 * m : 6 * m]) * np.float32(RHO_SCALE),
            pen_logits=pen,
            component_pen_logits=component_pen,
        )


class TransformerEncoder:
    """``net.SketchEncoder`` in inference mode on numpy: padded stroke-5 sketches (with their
    end point) and a mask of real points -> (mu, sigma_hat) of each sketch's latent code."""

    def __init__(self, cfg: ModelConfig, weights: dict[str, np.ndarray]):
        check_transformer_weights(cfg, weights)
        folded = _FoldedWeights(weights)
        self.cfg = cfg
        self.blocks = [folded.block(f"encoder.blocks.{i}.", cfg.n_embd, cfg.n_head) for i in range(cfg.encoder_layers)]
        self.offset_embed = folded.linear("encoder.offset_embed")
        self.head = folded.linear("encoder.head", "encoder.ln_f")
        # ln_f's shift, folded into the head's bias, reaches only runs that have points: an
        # empty run (a sketch shorter than latent_tokens) pools to zero before ln_f in torch.
        self.head_shift = self.head[1] - folded.array("encoder.head.bias")
        self.pen_embed, self.pos_embed = (folded.array(f"encoder.{name}.weight") for name in ("pen_embed", "pos_embed"))
        self.mu_norm = None
        if cfg.mu_norm_scale > 0:  # net.LatentNorm with its running statistics, as (scale, shift)
            scale = cfg.mu_norm_scale / np.sqrt(folded.w["encoder.mu_norm.running_var"] + 1e-5)
            self.mu_norm = (
                scale.astype(np.float32),
                (-folded.w["encoder.mu_norm.running_mean"] * scale).astype(np.float32),
            )

    def encode(self, sketches: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sketches = np.asarray(sketches, dtype=np.float32)
        t = sketches.shape[1]
        if t > self.cfg.block_size:
            raise ValueError(f"sketch of {t} points exceeds block_size {self.cfg.block_size}")
        x = _linear(sketches[..., :2], *self.offset_embed)
        x += self.pen_embed[sketches[..., 2:].argmax(-1)] + self.pos_embed[:t]
        keys = np.where(np.asarray(mask) > 0, 0.0, -np.inf).astype(np.float32)[:, None, None, :]
        for block in self.blocks:
            x += _attention(_normalise(x), block, self.cfg.n_head, keys)
            x += _mlp(x, block)
        mask = np.asarray(mask, dtype=np.float32)
        length = mask.sum(1, keepdims=True).astype(np.int64)
        token = latent_token_of_point(np.arange(t)[None], length, self.cfg.latent_tokens)
        weights = (token[..., None] == np.arange(max(self.cfg.latent_tokens, 1))) * mask[..., None]  # (B, T, K)
        counts = weights.sum(1)  # points per run, (B, K)
        weights = (weights / np.maximum(counts[:, None, :], 1)).astype(np.float32)
        pooled = np.einsum("btk,btc->bkc", weights, _normalise(x))  # ln_f's scale and shift are in the head
        out = _linear(pooled, *self.head)  # (B, K, 2 * part)
        out -= (counts == 0)[..., None] * self.head_shift
        part = self.cfg.latent_part
        mu, sigma_hat = out[..., :part].reshape(len(out), -1), out[..., part:].reshape(len(out), -1)
        if self.mu_norm is not None:
            mu = mu * self.mu_norm[0] + self.mu_norm[1]
        return mu, sigma_hat


@dataclass
class LSTMState:
    """Hidden and cell state, (B, U) each, updated in place by ``MagentaDecoder.forward``."""

    h: np.ndarray
    c: np.ndarray

    def keep(self, rows: np.ndarray) -> None:
        """Keep only these sequences (batch rows), e.g. drop the sketches that have ended."""
        self.h, self.c = self.h[rows], self.c[rows]


class MagentaDecoder:
    """Sketch-RNN's unconditional decoder with sketch-rnn-js's maths: one LSTM layer
    (``tf.basicLSTMCell``, gates i, j, f, o, forget bias 1) and a mixture-density output
    split into 3 pen logits, then M each of pi logits, mu_x, mu_y, log sigma_x, log sigma_y,
    raw correlation."""

    block_size = 1_000_000  # an LSTM has no positional limit
    latent_size = 0  # the unconditional decoder

    def __init__(self, out_w, out_b, w_xh, w_hh, bias):
        """The five arrays of a ``.gen.json`` file, as ``magenta.read_gen_json`` returns them."""
        self.n_units = w_hh.shape[0]
        self.n_mixture = (out_w.shape[1] - 3) // 6
        u = self.n_units
        self.w_xh = np.asarray(w_xh, dtype=np.float32)
        self.w_hh = np.asarray(w_hh, dtype=np.float32)
        self.bias = np.array(bias, dtype=np.float32)
        self.bias[2 * u : 3 * u] += MAGENTA_FORGET_BIAS
        self.out_w, self.out_b = np.asarray(out_w, dtype=np.float32), np.asarray(out_b, dtype=np.float32)

    @property
    def cache_bytes_per_sequence(self) -> int:
        return 2 * self.n_units * 4

    def new_cache(self, batch: int) -> LSTMState:
        zeros = np.zeros((batch, self.n_units), dtype=np.float32)
        return LSTMState(zeros, zeros.copy())

    def forward(self, strokes: np.ndarray, classes=None, cache: LSTMState | None = None, z=None) -> Mixture:
        strokes = np.asarray(strokes, dtype=np.float32)
        b, t, _ = strokes.shape
        u = self.n_units
        state = cache if cache is not None else self.new_cache(b)
        h, c = state.h, state.c
        gates_x = _linear(strokes, self.w_xh, self.bias)  # the input part of every step at once
        hidden = np.empty((b, t, u), dtype=np.float32)
        for step in range(t):
            gates = gates_x[:, step] + h @ self.w_hh
            i, j, f, o = gates[:, :u], gates[:, u : 2 * u], gates[:, 2 * u : 3 * u], gates[:, 3 * u :]
            c = _sigmoid(i) * np.tanh(j) + c * _sigmoid(f)
            h = np.tanh(c) * _sigmoid(o)
            hidden[:, step] = h
        state.h, state.c = h, c
        return self._mixture(_linear(hidden, self.out_w, self.out_b))

    def _mixture(self, out: np.ndarray) -> Mixture:
        m = self.n_mixture
        pen, logit_pi, mu_x, mu_y, s_x, s_y, r = np.split(out, np.cumsum([3] + [m] * 5), axis=-1)
        return Mixture(
            log_pi=log_softmax(logit_pi),
            mu_x=mu_x,
            mu_y=mu_y,
            sigma_x=np.exp(s_x),
            sigma_y=np.exp(s_y),
            rho=np.clip(np.tanh(r), -MAGENTA_RHO_LIMIT, MAGENTA_RHO_LIMIT),
            pen_logits=pen,
        )
