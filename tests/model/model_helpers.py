"""Helpers shared by the model tests: a tiny architecture and synthetic npz data."""

import numpy as np
import torch

from sketchplot.model.config import ModelConfig
from sketchplot.model.decoders import TransformerDecoder
from sketchplot.model.net import SketchTransformer

TINY = dict(n_layer=1, n_head=2, n_embd=32, dropout=0.0, block_size=41, n_mixture=3)


def random_sketch(rng, n_points: int) -> np.ndarray:
    """Stroke-3 int16 with an absolute start row, strokes of 4-8 points (npz layout)."""
    offsets = rng.integers(-20, 21, size=(n_points, 2))
    pen = np.zeros(n_points, dtype=np.int16)
    ends = np.cumsum(rng.integers(4, 9, size=n_points)) - 1
    pen[ends[ends < n_points]] = 1
    pen[-1] = 1
    start = np.array([[rng.integers(0, 100), rng.integers(0, 100), 0]])
    return np.vstack([start, np.column_stack([offsets, pen])]).astype(np.int16)


def write_npz(path, rng, counts=(24, 6, 6), lengths=(8, 30)):
    splits = {}
    for split, count in zip(("train", "valid", "test"), counts):
        array = np.empty(count, dtype=object)
        array[:] = [random_sketch(rng, int(rng.integers(*lengths))) for _ in range(count)]
        splits[split] = array
    np.savez(path, **splits)
    return path


def shape_sketch() -> np.ndarray:
    """One structured sketch for the toy test: a 12-gon, a straight line, a zigzag (npz layout)."""
    angles = np.linspace(0, 2 * np.pi, 13)
    circle = np.column_stack([60 + 40 * np.cos(angles), 60 + 40 * np.sin(angles)])
    line = np.column_stack([np.linspace(20, 100, 6), np.full(6, 130.0)])
    zigzag = np.column_stack([np.linspace(20, 100, 8), 150 + 10 * (np.arange(8) % 2)])
    points, pen = [], []
    for stroke in (circle, line, zigzag):
        points.append(stroke)
        pen += [0] * (len(stroke) - 1) + [1]
    absolute = np.round(np.concatenate(points))
    offsets = np.diff(absolute, axis=0, prepend=0)
    return np.column_stack([offsets, pen]).astype(np.int16)


def random_pair(sigma_activation: str = "elu", n_classes: int = 3, seed: int = 0, **model):
    """A torch model with every weight random (larger than at init, so attention, layer norms,
    classes and pen logits all matter) and the numpy decoder built from its state dict."""
    torch.manual_seed(seed)
    cfg = ModelConfig(**{**TINY, "n_layer": 2, "n_classes": n_classes, "sigma_activation": sigma_activation, **model})
    net = SketchTransformer(cfg).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.4)
    return net, TransformerDecoder(cfg, {k: v.numpy() for k, v in net.state_dict().items()})


def write_tiny_classifier(directory, classes=("cat", "dog", "The Eiffel Tower"), stages=((4,), (6, 6))):
    """A random 16-pixel sketch classifier in the shipped format (torch only to build it)."""
    import torch

    from sketchplot.model.classifier import save_classifier
    from sketchplot.model.classifier_net import SketchCNN, folded_weights

    torch.manual_seed(0)
    stages = [list(s) for s in stages]
    net = SketchCNN(stages, size=16, hidden=10, classes=len(classes), dropout=0.0).eval()
    config = {
        "classes": list(classes),
        "raster": {"size": 16, "padding": 1.0, "gain": 1.0},
        "stages": stages,
        "hidden": 10,
    }
    save_classifier(directory, config, folded_weights(net, stages))
    return directory
