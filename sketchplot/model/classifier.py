"""A 345-class sketch classifier in numpy: the project's judge of what a person will recognise.

Sketches are rendered to small greyscale rasters that fit each sketch's bounding box (so the
score does not depend on the units the sketch is in), then a small CNN (3x3 convolutions with
batch norm folded in, ReLU, 2x2 max-pooling, one hidden dense layer) gives class
probabilities; its hidden layer is the feature space for FID and KID. The weights are a
safetensors file and a JSON description (no pickle); training lives in
``bench/train_classifier.py`` (torch), inference here needs numpy alone.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from sketchplot.core.errors import SketchplotError
from sketchplot.core.formats import class_key, find_class

CLASSIFIER_DIR = "classifier_weights"
CONFIG_NAME = "classifier.json"
WEIGHTS_NAME = "classifier.safetensors"
MAX_CLASSIFIER_BYTES = 8 * 2**20
SAMPLES_PER_PIXEL = 2.0  # points laid along each segment per pixel of its length
BATCH = 256  # sketches per forward pass: bounds the im2col buffers to a few tens of MB


class ClassifierError(SketchplotError):
    """The classifier file is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class RasterSpec:
    """How a sketch becomes an image: side in pixels, empty border, line gain."""

    size: int = 32
    padding: float = 1.5
    gain: float = 1.0


def sketch_points(sketch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stroke-3 from the origin (the pen starts at (0, 0) and the first row draws from there)
    -> absolute points (P + 1, 2) and, per point, whether a line joins it to the next one."""
    offsets = np.asarray(sketch[:, :2], dtype=np.float64)
    points = np.concatenate([np.zeros((1, 2)), np.cumsum(offsets, axis=0)])
    connects = np.concatenate([[True], np.asarray(sketch[:, 2], dtype=np.float64) < 0.5])
    return points, connects


def render(sketches: list[np.ndarray], spec: RasterSpec = RasterSpec()) -> np.ndarray:
    """Rasters (N, size, size) in [0, 1], each sketch scaled to fit its bounding box.

    Lines are drawn by laying points along every pen-down segment and splatting them
    bilinearly; a sketch with a single point is a dot. Deterministic and vectorised."""
    size = spec.size
    images = np.zeros((len(sketches), size * size), dtype=np.float32)
    span = size - 1 - 2 * spec.padding
    for index, sketch in enumerate(sketches):
        if len(sketch) == 0:
            continue
        points, connects = sketch_points(sketch)
        low, high = points.min(axis=0), points.max(axis=0)
        extent = float(np.max(high - low))
        scale = span / extent if extent > 0 else 0.0
        centre = (low + high) / 2
        pixels = (points - centre) * scale + (size - 1) / 2
        starts, ends = pixels[:-1][connects[:-1]], pixels[1:][connects[:-1]]
        if len(starts):
            lengths = np.linalg.norm(ends - starts, axis=1)
            counts = np.maximum(1, np.ceil(lengths * SAMPLES_PER_PIXEL)).astype(int)
            segment = np.repeat(np.arange(len(starts)), counts)
            offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            t = (offsets / np.repeat(counts, counts))[:, None]
            dots = starts[segment] * (1 - t) + ends[segment] * t
            dots = np.concatenate([dots, ends[-1:]])
            weight = 1.0 / SAMPLES_PER_PIXEL
        else:
            dots, weight = pixels, 1.0
        _splat(images[index], dots, weight * spec.gain, size)
    return np.minimum(images, 1.0).reshape(len(sketches), size, size)


def _splat(image: np.ndarray, dots: np.ndarray, weight: float, size: int) -> None:
    """Add ``weight`` at each dot, shared bilinearly between its four neighbouring pixels."""
    base = np.floor(dots).astype(int)
    frac = dots - base
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        x, y = base[:, 0] + dx, base[:, 1] + dy
        w = (frac[:, 0] if dx else 1 - frac[:, 0]) * (frac[:, 1] if dy else 1 - frac[:, 1])
        inside = (x >= 0) & (x < size) & (y >= 0) & (y < size)
        np.add.at(image, y[inside] * size + x[inside], w[inside] * weight)


def _conv3x3(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Same-padded 3x3 convolution, channels last: (N, H, W, C) @ (9C, O) -> (N, H, W, O)."""
    n, h, w, c = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))  # N H W C 3 3
    columns = windows.reshape(n * h * w, c * 9)
    return (columns @ weight + bias).reshape(n, h, w, -1)


def _max_pool2(x: np.ndarray) -> np.ndarray:
    n, h, w, c = x.shape
    return x[:, : h // 2 * 2, : w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


@dataclass(frozen=True)
class Prediction:
    """Class probabilities (N, classes) and the hidden-layer features (N, features)."""

    probabilities: np.ndarray
    features: np.ndarray


class SketchClassifier:
    """Numpy inference of the shipped CNN. ``stages`` lists the convolutions per resolution."""

    def __init__(self, config: dict, weights: dict[str, np.ndarray], where: str = "classifier"):
        try:
            self.classes: list[str] = [str(c) for c in config["classes"]]
            self.spec = RasterSpec(**config["raster"])
            self.stages: list[list[int]] = [[int(c) for c in stage] for stage in config["stages"]]
            self.hidden = int(config["hidden"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ClassifierError(f"{where}: bad classifier description ({exc})") from None
        self._layers = []
        channels = 1
        for s, stage in enumerate(self.stages):
            for k, out in enumerate(stage):
                w, b = self._get(weights, f"conv{s}_{k}", (out, channels, 3, 3), (out,), where)
                self._layers.append((w.transpose(1, 2, 3, 0).reshape(channels * 9, out), b))
                channels = out
        side = self.spec.size // 2 ** len(self.stages)
        w, b = self._get(weights, "hidden", (self.hidden, side * side * channels), (self.hidden,), where)
        # torch flattens (C, H, W); inference runs channels last, so reorder the columns once.
        self._hidden = (w.reshape(self.hidden, channels, side, side).transpose(2, 3, 1, 0).reshape(-1, self.hidden), b)
        w, b = self._get(weights, "out", (len(self.classes), self.hidden), (len(self.classes),), where)
        self._out = (w.T.copy(), b)

    @staticmethod
    def _get(weights, name, weight_shape, bias_shape, where):
        try:
            w, b = weights[f"{name}.weight"], weights[f"{name}.bias"]
        except KeyError as exc:
            raise ClassifierError(f"{where}: missing tensor {exc}") from None
        if w.shape != weight_shape or b.shape != bias_shape:
            raise ClassifierError(f"{where}: {name} has shape {w.shape}, expected {weight_shape}")
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise ClassifierError(f"{where}: {name} holds NaN or infinite weights")
        return w.astype(np.float32), b.astype(np.float32)

    def class_index(self, name: str) -> int:
        index = find_class(self.classes, name)
        if index is not None:
            return index
        import difflib

        by_key = {class_key(c): c for c in self.classes}
        close = [by_key[k] for k in difflib.get_close_matches(class_key(name), list(by_key), n=3, cutoff=0.6)]
        hint = f" (did you mean: {', '.join(close)}?)" if close else ""
        raise ClassifierError(f"unknown class '{name}'{hint}")

    def forward(self, images: np.ndarray) -> Prediction:
        """Rasters (N, size, size) -> probabilities and features, in batches."""
        probabilities, features = [], []
        for start in range(0, len(images), BATCH):
            x = images[start : start + BATCH, :, :, None].astype(np.float32)
            layers = iter(self._layers)
            for stage in self.stages:
                for _ in stage:
                    x = np.maximum(_conv3x3(x, *next(layers)), 0)
                x = _max_pool2(x)
            hidden = np.maximum(x.reshape(len(x), -1) @ self._hidden[0] + self._hidden[1], 0)
            logits = hidden @ self._out[0] + self._out[1]
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            probabilities.append(p / p.sum(axis=1, keepdims=True))
            features.append(hidden)
        if not probabilities:
            return Prediction(np.zeros((0, len(self.classes)), np.float32), np.zeros((0, self.hidden), np.float32))
        return Prediction(np.concatenate(probabilities), np.concatenate(features))

    def predict(self, sketches: list[np.ndarray]) -> Prediction:
        """Stroke-3 sketches from the origin -> probabilities and features."""
        return self.forward(render(sketches, self.spec))


def shipped_classifier_dir() -> Path:
    return Path(str(resources.files("sketchplot.model") / CLASSIFIER_DIR))


def load_classifier(directory: str | Path | None = None) -> SketchClassifier:
    """The classifier in ``directory`` (default: the shipped one), read without unpickling."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    directory = Path(directory) if directory is not None else shipped_classifier_dir()
    config_path, weights_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
    try:
        for path in (config_path, weights_path):
            if path.stat().st_size > MAX_CLASSIFIER_BYTES:
                raise ClassifierError(f"{path}: larger than {MAX_CLASSIFIER_BYTES // 2**20} MiB")
        config = json.loads(config_path.read_text(encoding="utf-8"))
        weights = load(weights_path.read_bytes())
    except ClassifierError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, SafetensorError, ValueError) as exc:
        raise ClassifierError(f"cannot read the sketch classifier in {directory}: {exc}") from None
    if not isinstance(config, dict):
        raise ClassifierError(f"{config_path}: not a classifier description")
    return SketchClassifier(config, weights, where=str(directory))


def save_classifier(directory: str | Path, config: dict, weights: dict[str, np.ndarray]) -> None:
    """Write the description and fp16 weights (the shipped file stays well under 5 MB)."""
    from safetensors.numpy import save

    from sketchplot.core.atomic import atomic_write_bytes, atomic_write_text

    directory = Path(directory)
    atomic_write_bytes(directory / WEIGHTS_NAME, save({k: v.astype(np.float16) for k, v in weights.items()}))
    atomic_write_text(directory / CONFIG_NAME, json.dumps(config, indent=1) + "\n")


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """FID between two feature sets: |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^1/2).

    The matrix square root's trace comes from the eigenvalues of S_a^1/2 S_b S_a^1/2, which are
    real and non-negative, so no complex square root (scipy) is needed."""
    mu_a, cov_a = feature_statistics(a.astype(np.float64))
    mu_b, cov_b = feature_statistics(b.astype(np.float64))
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_root = np.sqrt(np.clip(middle, 0, None)).sum()
    distance = float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root)
    return max(distance, 0.0)


KID_SUBSET = 1000  # KID on larger sets is the mean over subsets of this size (memory stays ~8 MB)
KID_SUBSETS = 10


def kernel_inception_distance(a: np.ndarray, b: np.ndarray) -> float:
    """KID: the unbiased squared MMD with the cubic polynomial kernel (x.y / d + 1)^3; unlike
    FID it has no bias that depends on the number of samples. Sets larger than KID_SUBSET are
    compared as the mean over KID_SUBSETS fixed random subsets, as KID is usually computed."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    if len(a) < 2 or len(b) < 2:
        return math.nan
    if max(len(a), len(b)) <= KID_SUBSET:
        return _mmd_cubic(a, b)
    rng = np.random.default_rng(0)
    size = min(len(a), len(b), KID_SUBSET)
    return float(
        np.mean(
            [
                _mmd_cubic(a[rng.choice(len(a), size, replace=False)], b[rng.choice(len(b), size, replace=False)])
                for _ in range(KID_SUBSETS)
            ]
        )
    )


def _mmd_cubic(a: np.ndarray, b: np.ndarray) -> float:
    d = a.shape[1]
    k_aa, k_bb, k_ab = ((x @ y.T / d + 1) ** 3 for x, y in ((a, a), (b, b), (a, b)))
    m, n = len(a), len(b)
    within_a = (k_aa.sum() - np.trace(k_aa)) / (m * (m - 1))
    within_b = (k_bb.sum() - np.trace(k_bb)) / (n * (n - 1))
    return float(within_a + within_b - 2 * k_ab.mean())
