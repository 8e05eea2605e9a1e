"""Google Magenta's sketch-rnn-js decoder models (``.gen.json``) as a torch LSTM decoder.

The file is a JSON list ``[info, shapes, weights]``; each weight blob is base64 of
little-endian int16, decoded as ``int16 * 10 / 32767`` (magenta-js ``instantiateFromJSON``).
Blobs: output W (U, 6M+3), output b, LSTM W_xh (5, 4U), W_hh (U, 4U), bias (4U).

The maths follows ``tf.basicLSTMCell`` as magenta-js calls it: gates = [x, h] @ [W_xh; W_hh]
+ b split into (i, j, f, o); c' = sigmoid(i) tanh(j) + c sigmoid(f + 1); h' = tanh(c')
sigmoid(o). The output layer is h @ W + b split into 3 pen logits, then M each of pi logits,
mu_x, mu_y, log sigma_x, log sigma_y, raw correlation (exp for sigmas, tanh for rho). Here it
runs as ``torch.nn.LSTM`` (gate order i, f, g, o; the forget bias folded into ``bias_ih``) so
that scoring whole sequences is fast; the decoder has the transformer's interface, with the
LSTM state as the cache, so ``sample()`` and the evaluator use either model unchanged.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from sketchplot.model.files import ModelFileError, ModelInfo
from sketchplot.model.net import Mixture

MAX_WEIGHT = 10.0
FORGET_BIAS = 1.0
GEN_MODES = (2, "gen")  # decoder-only; "gen" is the older (version 2) spelling, e.g. bear
MAGENTA_SOURCE = "Google Magenta sketch-rnn-js pretrained model (decoder only)"
RHO_LIMIT = 1.0 - 1e-6  # tanh saturates to exactly 1 in float32; keeps the likelihood finite


@dataclass
class MagentaConfig:
    n_units: int = 512
    n_mixture: int = 20
    n_classes: int = 1
    block_size: int = 1_000_000  # an LSTM has no positional limit

    def to_dict(self) -> dict:
        return asdict(self)


def decode_weights(blob: str) -> np.ndarray:
    """One base64 int16 blob -> float32, rounded once like magenta-js (10 * v / 32767)."""
    raw = np.frombuffer(base64.b64decode(blob, validate=True), dtype="<i2")
    return (MAX_WEIGHT * raw.astype(np.float64) / 32767).astype(np.float32)


class MagentaDecoder(nn.Module):
    """Sketch-RNN's unconditional decoder: one LSTM layer and a mixture-density output."""

    def __init__(self, cfg: MagentaConfig):
        super().__init__()
        self.cfg = cfg
        self.lstm = nn.LSTM(5, cfg.n_units, batch_first=True)
        self.head = nn.Linear(cfg.n_units, 6 * cfg.n_mixture + 3)

    def load_js_weights(self, out_w, out_b, w_xh, w_hh, bias) -> None:
        """Copy the JS arrays in, reordering gates (i, j, f, o) -> torch's (i, f, g=j, o)."""
        u = self.cfg.n_units

        def reorder(a):
            i, j, f, o = (a[..., k * u : (k + 1) * u] for k in range(4))
            return np.concatenate([i, f, j, o], axis=-1)

        bias = np.array(bias, dtype=np.float32)
        bias[2 * u : 3 * u] += FORGET_BIAS
        with torch.no_grad():
            self.lstm.weight_ih_l0.copy_(torch.from_numpy(reorder(w_xh).T.copy()))
            self.lstm.weight_hh_l0.copy_(torch.from_numpy(reorder(w_hh).T.copy()))
            self.lstm.bias_ih_l0.copy_(torch.from_numpy(reorder(bias)))
            self.lstm.bias_hh_l0.zero_()
            self.head.weight.copy_(torch.from_numpy(np.asarray(out_w).T.copy()))
            self.head.bias.copy_(torch.from_numpy(np.asarray(out_b)))

    def forward(self, strokes, classes=None, caches=None, start_pos: int = 0):
        """strokes: (B, T, 5) stroke-5 inputs; caches: the LSTM (h, c) after earlier steps."""
        hidden, state = self.lstm(strokes, caches)
        return self.mixture(self.head(hidden)), state

    def mixture(self, out) -> Mixture:
        m = self.cfg.n_mixture
        pen, logit_pi, mu_x, mu_y, s_x, s_y, r = out.split([3, m, m, m, m, m, m], dim=-1)
        return Mixture(
            log_pi=F.log_softmax(logit_pi, dim=-1), mu_x=mu_x, mu_y=mu_y,
            sigma_x=torch.exp(s_x), sigma_y=torch.exp(s_y),
            rho=torch.tanh(r).clamp(-RHO_LIMIT, RHO_LIMIT), pen_logits=pen,
        )


def read_gen_json(path: str | Path) -> tuple[dict, list[np.ndarray]]:
    """The info dict and the five decoded weight arrays (shaped) of a ``.gen.json`` file."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"model file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: not a sketch-rnn-js model (unreadable JSON: {exc})") from None
    if not (isinstance(raw, list) and len(raw) == 3 and isinstance(raw[0], dict)
            and isinstance(raw[1], list) and isinstance(raw[2], list)):
        raise ModelFileError(f"{path}: not a sketch-rnn-js model (expected [info, shapes, weights])")
    info, shapes, blobs = raw
    if info.get("mode") not in GEN_MODES:
        raise ModelFileError(
            f"{path}: sketch-rnn-js mode {info.get('mode')!r} is not a decoder-only model (2 or 'gen')"
        )
    if "scale_factor" not in info or len(shapes) != 5 or len(blobs) != 5:
        raise ModelFileError(f"{path}: sketch-rnn-js model without scale_factor or 5 weight blobs")
    arrays = []
    for index, (shape, blob) in enumerate(zip(shapes, blobs)):
        try:
            values = decode_weights(blob)
        except (binascii.Error, TypeError, ValueError) as exc:
            raise ModelFileError(f"{path}: weight blob {index} is not base64 int16 ({exc})") from None
        if values.size != int(np.prod(shape)):
            raise ModelFileError(
                f"{path}: weight blob {index} has {values.size} values, shape {shape} needs {int(np.prod(shape))}"
            )
        arrays.append(values.reshape(shape))
    units, outputs = arrays[0].shape
    expected = [(units, outputs), (outputs,), (5, 4 * units), (units, 4 * units), (4 * units,)]
    if [a.shape for a in arrays] != expected or (outputs - 3) % 6:
        raise ModelFileError(f"{path}: unexpected weight shapes {[list(a.shape) for a in arrays]}")
    return info, arrays


def load_magenta(path: str | Path) -> tuple[MagentaDecoder, ModelInfo]:
    """A ``.gen.json`` as (decoder in eval mode, ModelInfo with its class and scale_factor).

    ``scale`` is the model's ``scale_factor``: samples come out in the pixel units of Google's
    own sketch-rnn data, about 2.4x larger than the 255-px Quick, Draw! simplified drawings.
    """
    info, (out_w, out_b, w_xh, w_hh, bias) = read_gen_json(path)
    cfg = MagentaConfig(n_units=out_w.shape[0], n_mixture=(out_w.shape[1] - 3) // 6)
    net = MagentaDecoder(cfg)
    net.load_js_weights(out_w, out_b, w_xh, w_hh, bias)
    net.eval()
    name = str(info.get("name") or Path(path).name.split(".")[0])
    model_info = ModelInfo(
        model=cfg, scale=float(info["scale_factor"]), classes=[name],
        max_seq_len=int(info.get("max_seq_len", 250)),
        data={"source": MAGENTA_SOURCE, "file": Path(path).name, "version": info.get("version"),
              "training_size": info.get("training_size")},
        metrics={"r_loss": info["r_loss"]} if "r_loss" in info else {},
    )
    return net, model_info
