"""Model files: a directory with ``config.json`` and ``model.safetensors``.

safetensors holds only tensors, so loading a model never unpickles anything. The JSON keeps
everything needed to use the weights: architecture, the normalising scale, the classes the
model draws, max length, training data and its licence, and measured metrics.

Files are read and written through safetensors' numpy side: inference (``load_decoder``)
never imports torch; only ``load_model``, which rebuilds the torch model for training and
tests, does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from sketchplot.errors import SketchplotError
from sketchplot.model.config import ModelConfig
from sketchplot.model.decoders import TransformerDecoder, check_transformer_weights

FORMAT = "sketchplot-model"
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
QUICKDRAW_LICENCE = "Quick, Draw! dataset, Google Inc., CC BY 4.0"


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


def save_model(directory: str | Path, net, info: ModelInfo, half: bool = False) -> Path:
    """Write a model directory from a torch ``SketchTransformer``; ``half`` stores weights as
    float16 to halve the size."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {k: v.detach().float().cpu().numpy() for k, v in net.state_dict().items()}
    if half:
        arrays = {k: v.astype(np.float16) for k, v in arrays.items()}
    save_file(arrays, str(directory / WEIGHTS_NAME))
    (directory / CONFIG_NAME).write_text(json.dumps(info.to_json(), indent=2) + "\n")
    return directory


def read_info(directory: str | Path) -> ModelInfo:
    directory = Path(directory)
    config_path = directory / CONFIG_NAME
    if not config_path.is_file():
        raise ModelFileError(f"{directory}: not a sketchplot model (no {CONFIG_NAME})")
    try:
        raw = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{config_path}: unreadable model config ({exc})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ModelFileError(f"{config_path}: not a sketchplot model config")
    try:
        return ModelInfo(
            model=ModelConfig(**raw["model"]),
            scale=float(raw["scale"]),
            classes=list(raw["classes"]),
            max_seq_len=int(raw.get("max_seq_len", 250)),
            data=dict(raw.get("data", {})),
            metrics=dict(raw.get("metrics", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{config_path}: malformed model config ({exc})") from None


def read_weights(directory: str | Path, cfg: ModelConfig) -> dict[str, np.ndarray]:
    """The weights of a model directory as float32 numpy arrays (float16 files upcast),
    checked against the architecture ``cfg``."""
    weights = Path(directory) / WEIGHTS_NAME
    try:
        arrays = {k: v.astype(np.float32) for k, v in load_file(str(weights)).items()}
    except (OSError, SafetensorError, ValueError) as exc:
        raise ModelFileError(f"{weights}: corrupted or unreadable weights ({exc})") from None
    try:
        check_transformer_weights(cfg, arrays)
    except ValueError as exc:
        raise ModelFileError(f"{weights}: weights do not match the config ({exc})") from None
    return arrays


def load_decoder(directory: str | Path) -> tuple[TransformerDecoder, ModelInfo]:
    """Load a model directory for inference: the numpy decoder and its info."""
    info = read_info(directory)
    return TransformerDecoder(info.model, read_weights(directory, info.model)), info


def load_model(directory: str | Path):
    """Load a model directory as the torch ``SketchTransformer`` (eval mode, float32, CPU),
    to train on or to compare with; inference uses ``load_decoder``."""
    import torch

    from sketchplot.model.net import SketchTransformer

    info = read_info(directory)
    net = SketchTransformer(info.model)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in read_weights(directory, info.model).items()})
    net.eval()
    return net, info
