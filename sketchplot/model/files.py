"""Model files: a directory with ``config.json`` and ``model.safetensors``.

safetensors holds only tensors, so loading a model never unpickles anything. The JSON keeps
everything needed to use the weights: architecture, the normalising scale, the classes the
model draws, max length, training data and its licence, and measured metrics.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from sketchplot.errors import SketchplotError
from sketchplot.model.net import ModelConfig, SketchTransformer

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


def save_model(directory: str | Path, net: SketchTransformer, info: ModelInfo, half: bool = False) -> Path:
    """Write a model directory; ``half`` stores weights as float16 to halve the size."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    if half:
        tensors = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    save_file(tensors, str(directory / WEIGHTS_NAME))
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


def load_model(directory: str | Path) -> tuple[SketchTransformer, ModelInfo]:
    """Load a model directory for inference (eval mode, float32, CPU)."""
    directory = Path(directory)
    info = read_info(directory)
    weights = directory / WEIGHTS_NAME
    try:
        tensors = load_file(str(weights))
    except (OSError, SafetensorError, ValueError) as exc:
        raise ModelFileError(f"{weights}: corrupted or unreadable weights ({exc})") from None
    net = SketchTransformer(info.model)
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
    try:
        net.load_state_dict(tensors)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1:2] or [str(exc)]
        raise ModelFileError(f"{weights}: weights do not match the config ({first[0].strip()})") from None
    net.eval()
    return net, info
