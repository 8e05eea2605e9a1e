"""Training data: Quick, Draw! sketches as normalised, padded stroke-5 batches.

Sketches arrive as stroke-3 (dx, dy, pen_lifted) with row 0 the absolute start point (the
sketch-rnn npz layout). The model learns shapes, not page positions, so row 0 is dropped:
every sketch starts at the origin. Offsets are divided by one scale, the standard deviation
of all dx and dy of the training split, which the model file keeps to undo it when sampling.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sketchplot.core.errors import SketchplotError
from sketchplot.core.formats import drop_start_row, read_stroke3_file, to_stroke5


class DataError(SketchplotError):
    """Training or evaluation data that cannot be read."""


def prepare(sketches: list[np.ndarray], max_seq_len: int) -> list[np.ndarray]:
    """Drop start rows, empty and non-finite sketches, and sketches over ``max_seq_len``."""
    kept = []
    for s in sketches:
        s = drop_start_row(np.asarray(s, dtype=np.float32))
        if 0 < len(s) <= max_seq_len and np.isfinite(s).all():
            kept.append(s)
    return kept


def offset_scale(sketches: list[np.ndarray]) -> float:
    """Standard deviation of all dx and dy together (Sketch-RNN's normalising factor)."""
    offsets = np.concatenate([s[:, :2].ravel() for s in sketches])
    return float(offsets.std())


START_TOKEN = np.array([0, 0, 1, 0, 0], dtype=np.float32)


@dataclass
class Batch:
    """numpy arrays (evaluation); ``to(device)`` gives the torch tensors training needs."""

    inputs: np.ndarray  # (B, T, 5) float32: start token then the points
    targets: np.ndarray  # (B, T, 5) float32: the points then the end point
    mask: np.ndarray  # (B, T) float32: 1 for real targets (points and the end point)
    classes: np.ndarray  # (B,) int64

    def to(self, device) -> Batch:
        import torch

        arrays = (self.inputs, self.targets, self.mask, self.classes)
        return Batch(*(torch.from_numpy(a).to(device) for a in arrays))


def make_batch(sketches: list[np.ndarray], classes: list[int], scale: float, pad_to: int | None = None) -> Batch:
    """Normalise and pad stroke-3 sketches; pads after the end point repeat the end state."""
    seqs = [to_stroke5(s) for s in sketches]
    length = max(len(s) for s in seqs) if pad_to is None else pad_to
    b = len(seqs)
    targets = np.zeros((b, length, 5), dtype=np.float32)
    targets[:, :, 4] = 1.0
    mask = np.zeros((b, length), dtype=np.float32)
    for i, s in enumerate(seqs):
        targets[i, : len(s)] = s
        mask[i, : len(s)] = 1.0
    targets[:, :, :2] /= scale
    inputs = np.concatenate([np.broadcast_to(START_TOKEN, (b, 1, 5)), targets[:, :-1]], axis=1)
    return Batch(np.ascontiguousarray(inputs), targets, mask, np.asarray(classes, dtype=np.int64))


def augment(sketch: np.ndarray, rng: np.random.Generator, scale_range: float) -> np.ndarray:
    """Sketch-RNN's augmentation: independent random x and y scale factors."""
    if scale_range <= 0:
        return sketch
    out = sketch.copy()
    out[:, 0] *= rng.uniform(1 - scale_range, 1 + scale_range)
    out[:, 1] *= rng.uniform(1 - scale_range, 1 + scale_range)
    return out


@dataclass
class SketchSet:
    """Sketches of one split with their class indices."""

    sketches: list[np.ndarray]
    classes: list[int]

    def __len__(self) -> int:
        return len(self.sketches)

    def point_count(self) -> int:
        return sum(len(s) + 1 for s in self.sketches)


def load_sketch_set(paths: list[Path], split: str, max_seq_len: int, limit: int | None = None) -> SketchSet:
    """One split of several class files; class index = position in ``paths``."""
    sketches, classes = [], []
    for index, path in enumerate(paths):
        kept = prepare(read_stroke3_file(path, split), max_seq_len)[:limit]
        sketches += kept
        classes += [index] * len(kept)
    return SketchSet(sketches, classes)
