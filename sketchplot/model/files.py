"""Model files: a directory, or a ``.zip`` archive of one, with ``config.json`` and
``model.safetensors``.

safetensors holds only tensors, so loading a model never unpickles anything. The JSON keeps
everything needed to use the weights: architecture, the normalising scale, the classes the
model draws, max length, training data and its licence, and measured metrics.

Files are read and written through safetensors' numpy side: inference (``load_decoder``)
never imports torch; only ``load_model``, which rebuilds the torch model for training and
tests, does.
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load, save

from sketchplot.core.atomic import atomic_write_bytes, atomic_write_text
from sketchplot.core.errors import SketchplotError
from sketchplot.model.config import ModelConfig
from sketchplot.model.decoders import TransformerDecoder, TransformerEncoder, check_transformer_weights

FORMAT = "sketchplot-model"
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
QUICKDRAW_LICENCE = "Quick, Draw! dataset, Google Inc., CC BY 4.0"
# Sizes checked before a byte is read: a config is about 1.5 KB, the shipped weights 2.6 MB.
MAX_MEMBER_BYTES = {CONFIG_NAME: 1 * 2**20, WEIGHTS_NAME: 1 * 2**30}


class ModelFileError(SketchplotError):
    """A model file that is missing, corrupted or not ours."""


@dataclass
class ModelInfo:
    """The JSON side of a model file."""

    model: ModelConfig
    scale: float
    classes: list[str]
    max_seq_len: int = 250
    data: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "version": 1,
            "architecture": "transformer",
            "model": self.model.to_dict(),
            "scale": self.scale,
            "classes": self.classes,
            "max_seq_len": self.max_seq_len,
            "data": self.data,
            "metrics": self.metrics,
        }


def numpy_weights(net) -> dict[str, np.ndarray]:
    """A torch network's weights as float32 numpy arrays: what numpy inference and the model
    file both take."""
    return {k: v.detach().float().cpu().numpy() for k, v in net.state_dict().items()}


def save_model(directory: str | Path, net, info: ModelInfo, half: bool = False) -> Path:
    """Write a model directory from a torch ``SketchTransformer``; ``half`` stores weights as
    float16 to halve the size."""
    directory = Path(directory)
    arrays = numpy_weights(net)
    if half:
        arrays = {k: v.astype(np.float16) for k, v in arrays.items()}
    # Each file whole or not at all; the config last, so a kill between the two leaves the
    # previous config (same architecture, older metrics) beside the new weights.
    atomic_write_bytes(directory / WEIGHTS_NAME, save(arrays))
    atomic_write_text(directory / CONFIG_NAME, json.dumps(info.to_json(), indent=2) + "\n")
    return directory


def read_member(model: str | Path, name: str) -> bytes:
    """One file of a model directory or ``.zip`` archive (at its top level or in one folder),
    refused before reading when it is larger than ``MAX_MEMBER_BYTES`` allows."""
    model = Path(model)
    limit = MAX_MEMBER_BYTES.get(name, MAX_MEMBER_BYTES[WEIGHTS_NAME])
    try:
        if model.is_file() and zipfile.is_zipfile(model):
            with zipfile.ZipFile(model) as archive:
                members = [m for m in archive.namelist() if Path(m).name == name and m.count("/") <= 1]
                if not members:
                    raise ModelFileError(f"{model}: not a sketchplot model (no {name} in the archive)")
                member = archive.getinfo(min(members, key=len))
                _check_size(model, name, member.file_size, limit)
                with archive.open(member) as handle:
                    data = handle.read(limit + 1)  # the header's size may lie
                _check_size(model, name, len(data), limit)
                return data
        path = model / name
        if not path.is_file():
            raise ModelFileError(f"{model}: not a sketchplot model (no {name})")
        _check_size(model, name, path.stat().st_size, limit)
        return path.read_bytes()
    except (OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError) as exc:
        raise ModelFileError(f"{model}: unreadable model ({exc})") from None


def _check_size(model: Path, name: str, size: int, limit: int) -> None:
    if size > limit:
        raise ModelFileError(
            f"{model}: {name} is {size / 2**20:.1f} MiB, more than a model file holds (at most {limit / 2**20:g} MiB)"
        )


def read_info(model: str | Path) -> ModelInfo:
    where = f"{model}: {CONFIG_NAME}"
    try:
        raw = json.loads(read_member(model, CONFIG_NAME).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{where}: unreadable model config ({exc})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ModelFileError(f"{where}: not a sketchplot model config")
    try:
        info = ModelInfo(
            model=ModelConfig(**raw["model"]),
            scale=float(raw["scale"]),
            classes=list(raw["classes"]),
            max_seq_len=int(raw.get("max_seq_len", 250)),
            data=dict(raw.get("data", {})),
            metrics=dict(raw.get("metrics", {})),
        )
    except KeyError as exc:
        raise ModelFileError(f"{where}: malformed model config (no {exc})") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise ModelFileError(f"{where}: malformed model config ({exc})") from None
    _check_info(info, where)
    return info


def _check_info(info: ModelInfo, where: str) -> None:
    """What the model itself does not check: the scale that multiplies every sample, the
    class names and the length cap."""
    if not math.isfinite(info.scale) or info.scale <= 0:
        raise ModelFileError(f"{where}: scale must be a finite number > 0, not {info.scale!r}")
    if not info.classes or not all(isinstance(c, str) and c for c in info.classes):
        raise ModelFileError(f"{where}: classes must be a non-empty list of names")
    if len(info.classes) < info.model.n_classes:
        raise ModelFileError(
            f"{where}: n_classes is {info.model.n_classes} but only {len(info.classes)} class name(s) are given"
        )
    if not 1 <= info.max_seq_len < info.model.block_size:
        raise ModelFileError(
            f"{where}: max_seq_len must be from 1 to block_size - 1 "
            f"({info.model.block_size - 1}), not {info.max_seq_len}"
        )


def read_weights(model: str | Path, cfg: ModelConfig) -> dict[str, np.ndarray]:
    """The weights of a model as float32 numpy arrays (float16 files upcast), checked
    against the architecture ``cfg``."""
    where = f"{model}: {WEIGHTS_NAME}"
    data = read_member(model, WEIGHTS_NAME)
    try:
        arrays = {k: v.astype(np.float32) for k, v in load(data).items()}
    except (OSError, SafetensorError, ValueError, TypeError) as exc:
        raise ModelFileError(f"{where}: corrupted or unreadable weights ({exc})") from None
    try:
        check_transformer_weights(cfg, arrays)
    except ValueError as exc:
        raise ModelFileError(f"{where}: weights do not match the config ({exc})") from None
    broken = next((name for name, array in arrays.items() if not np.isfinite(array).all()), None)
    if broken is not None:
        raise ModelFileError(f"{where}: weight {broken} holds NaN or infinite values (a corrupted model)")
    return arrays


def load_decoder(model: str | Path) -> tuple[TransformerDecoder, ModelInfo]:
    """Load a model directory or archive for inference: the numpy decoder and its info."""
    info = read_info(model)
    return TransformerDecoder(info.model, read_weights(model, info.model)), info


def load_encoder(model: str | Path) -> TransformerEncoder:
    """The numpy encoder of a conditional (VAE) model, for encoding sketches to latent codes."""
    return load_conditional(model)[1]


def load_conditional(model: str | Path) -> tuple[TransformerDecoder, TransformerEncoder, ModelInfo]:
    """A conditional (VAE) model for inference: its numpy decoder, encoder and info."""
    info = read_info(model)
    if not info.model.conditional:
        raise ModelFileError(f"{model}: not a conditional model (it has no encoder); train one with latent_size > 0")
    weights = read_weights(model, info.model)
    return TransformerDecoder(info.model, weights), TransformerEncoder(info.model, weights), info


def load_model(directory: str | Path) -> tuple:
    """Load a model directory as the torch ``SketchTransformer`` (eval mode, float32, CPU),
    to train on or to compare with; inference uses ``load_decoder``."""
    import torch

    from sketchplot.model.net import SketchTransformer

    info = read_info(directory)
    net = SketchTransformer(info.model)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in read_weights(directory, info.model).items()})
    net.eval()
    return net, info
