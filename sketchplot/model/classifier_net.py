"""The sketch classifier's torch twin, for training it (``bench/train_classifier.py``) and for
checking the numpy inference in ``classifier`` against it."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class SketchCNN(nn.Module):
    def __init__(self, stages: list[list[int]], size: int, hidden: int, classes: int, dropout: float):
        super().__init__()
        layers, channels = [], 1
        for stage in stages:
            for out in stage:
                layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU()]
                channels = out
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        side = size // 2 ** len(stages)
        self.hidden = nn.Linear(channels * side * side, hidden)
        self.out = nn.Linear(hidden, classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        x = self.features(x).flatten(1)
        x = torch.relu(self.hidden(self.dropout(x)))
        return self.out(self.dropout(x))


def folded_weights(net: SketchCNN, stages: list[list[int]]) -> dict[str, np.ndarray]:
    """Batch norm folded into each convolution: the numpy side has no batch norm at all."""
    weights, convs = {}, [m for m in net.features if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    names = [f"conv{s}_{k}" for s, stage in enumerate(stages) for k in range(len(stage))]
    for name, conv, norm in zip(names, convs[0::2], convs[1::2], strict=True):
        factor = norm.weight / torch.sqrt(norm.running_var + norm.eps)
        weights[f"{name}.weight"] = (conv.weight * factor[:, None, None, None]).detach().numpy()
        weights[f"{name}.bias"] = (norm.bias - norm.running_mean * factor).detach().numpy()
    for name in ("hidden", "out"):
        layer = getattr(net, name)
        weights[f"{name}.weight"] = layer.weight.detach().numpy()
        weights[f"{name}.bias"] = layer.bias.detach().numpy()
    return weights
