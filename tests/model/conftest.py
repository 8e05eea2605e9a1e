"""Tiny synthetic sketch data and tiny models, so the model layer tests run in seconds."""

import numpy as np
import pytest
import torch
from model_helpers import TINY, shape_sketch, write_npz

from sketchplot.model.config import ModelConfig
from sketchplot.model.decoders import TransformerDecoder
from sketchplot.model.net import SketchTransformer

# Tiny models gain nothing from threads, and two threads spin against any other CPU job.
torch.set_num_threads(1)


@pytest.fixture
def tiny_npz(tmp_path):
    return write_npz(tmp_path / "blob.npz", np.random.default_rng(0))


@pytest.fixture
def tiny_net():
    torch.manual_seed(0)
    return SketchTransformer(ModelConfig(**TINY, n_classes=2)).eval()


@pytest.fixture
def tiny_decoder(tiny_net):
    """The numpy inference decoder with tiny_net's weights."""
    return TransformerDecoder(tiny_net.cfg, {k: v.numpy() for k, v in tiny_net.state_dict().items()})


@pytest.fixture
def toy_npz(tmp_path):
    """One structured sketch in every split (toy mode trains on it)."""
    one = np.empty(1, dtype=object)
    one[0] = shape_sketch()
    np.savez(tmp_path / "toy.npz", train=one, valid=one, test=one)
    return tmp_path / "toy.npz"
