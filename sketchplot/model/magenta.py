"""Google Magenta's sketch-rnn-js decoder models (``.gen.json``): reading the file format.

The file is a JSON list ``[info, shapes, weights]``; each weight blob is base64 of
little-endian int16, decoded as ``int16 * 10 / 32767`` (magenta-js ``instantiateFromJSON``).
Blobs: output W (U, 6M+3), output b, LSTM W_xh (5, 4U), W_hh (U, 4U), bias (4U). The maths
that runs them is ``decoders.MagentaDecoder``, the sampler's and evaluator's interface.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sketchplot.model.decoders import MagentaDecoder
from sketchplot.model.files import ModelFileError, ModelInfo

MAX_WEIGHT = 10.0
MAX_FILE_BYTES = 256 * 2**20  # Google's largest decoder files are a few MB
GEN_MODES = (2, "gen")  # decoder-only; "gen" is the older (version 2) spelling, e.g. bear
MAGENTA_SOURCE = "Google Magenta sketch-rnn-js pretrained model (decoder only)"


@dataclass
class MagentaConfig:
    n_units: int = 512
    n_mixture: int = 20

    def to_dict(self) -> dict:
        return asdict(self)


def decode_weights(blob: str) -> np.ndarray:
    """One base64 int16 blob -> float32, rounded once like magenta-js (10 * v / 32767)."""
    raw = np.frombuffer(base64.b64decode(blob, validate=True), dtype="<i2")
    return (MAX_WEIGHT * raw.astype(np.float64) / 32767).astype(np.float32)


def read_gen_json(path: str | Path) -> tuple[dict, list[np.ndarray]]:
    """The info dict and the five decoded weight arrays (shaped) of a ``.gen.json`` file."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ModelFileError(
                f"{path}: {path.stat().st_size / 2**20:.0f} MiB is larger than a sketch-rnn-js "
                f"model (at most {MAX_FILE_BYTES // 2**20} MiB)"
            )
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"model file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path}: not a sketch-rnn-js model (unreadable JSON: {exc})") from None
    if not (
        isinstance(raw, list)
        and len(raw) == 3
        and isinstance(raw[0], dict)
        and isinstance(raw[1], list)
        and isinstance(raw[2], list)
    ):
        raise ModelFileError(f"{path}: not a sketch-rnn-js model (expected [info, shapes, weights])")
    info, shapes, blobs = raw
    if info.get("mode") not in GEN_MODES:
        raise ModelFileError(
            f"{path}: sketch-rnn-js mode {info.get('mode')!r} is not a decoder-only model (2 or 'gen')"
        )
    if "scale_factor" not in info or len(shapes) != 5 or len(blobs) != 5:
        raise ModelFileError(f"{path}: sketch-rnn-js model without scale_factor or 5 weight blobs")
    if not all(
        isinstance(shape, list) and all(isinstance(n, int) and 0 < n < 2**20 for n in shape) for shape in shapes
    ):
        raise ModelFileError(f"{path}: weight shapes are not lists of positive integers")
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
    """A ``.gen.json`` as (decoder, ModelInfo with its class and scale_factor).

    ``scale`` is the model's ``scale_factor``: samples come out in the pixel units of Google's
    own sketch-rnn data, about 2.4x larger than the 255-px Quick, Draw! simplified drawings.
    """
    info, (out_w, out_b, w_xh, w_hh, bias) = read_gen_json(path)
    try:
        scale, max_seq_len = float(info["scale_factor"]), int(info.get("max_seq_len", 250))
    except (TypeError, ValueError, OverflowError) as exc:
        raise ModelFileError(f"{path}: scale_factor or max_seq_len is not a number ({exc})") from None
    if not (0 < scale < math.inf and max_seq_len >= 1):
        raise ModelFileError(f"{path}: scale_factor must be finite and > 0 and max_seq_len >= 1")
    cfg = MagentaConfig(n_units=out_w.shape[0], n_mixture=(out_w.shape[1] - 3) // 6)
    decoder = MagentaDecoder(out_w, out_b, w_xh, w_hh, bias)
    name = str(info.get("name") or Path(path).name.split(".")[0])
    model_info = ModelInfo(
        model=cfg,
        scale=scale,
        classes=[name],
        max_seq_len=max_seq_len,
        data={
            "source": MAGENTA_SOURCE,
            "file": Path(path).name,
            "version": info.get("version"),
            "training_size": info.get("training_size"),
        },
        metrics={"r_loss": info["r_loss"]} if "r_loss" in info else {},
    )
    return decoder, model_info
