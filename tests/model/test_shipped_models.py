"""Every model the package ships loads without torch's pickle, samples its classes (up to 12,
spread over its list) and stays inside the size budget. Samples are scored by the shipped classifier only loosely: this is
a smoke test of the files, the model card measures their quality."""

import numpy as np
import pytest

from sketchplot.model.registry import available_models, load_any, shipped_model_dir
from sketchplot.model.sample import sample

MODEL_BUDGET_BYTES = 10 * 2**20
ALL_MODELS_BUDGET_BYTES = 25 * 2**20
SHIPPED = [e for e in available_models() if e.origin == "shipped"]


def test_the_package_ships_models_within_the_size_budget():
    assert SHIPPED, "no shipped model found"
    sizes = {path.parent.name: path.stat().st_size for path in shipped_model_dir().glob("*/model.safetensors")}
    assert set(sizes) == {e.name for e in SHIPPED}
    assert max(sizes.values()) <= MODEL_BUDGET_BYTES and sum(sizes.values()) <= ALL_MODELS_BUDGET_BYTES


CLASSES_PER_MODEL = 12  # a model of more classes is sampled on this many, spread over its list


@pytest.mark.parametrize("entry", SHIPPED, ids=lambda e: e.name)
def test_every_shipped_model_draws_its_classes(entry):
    decoder, info = load_any(entry.path)
    count = max(info.model.n_classes, 1)
    for index in sorted(set(np.linspace(0, count - 1, min(count, CLASSES_PER_MODEL)).round().astype(int).tolist())):
        name = info.classes[index]
        (sketch,) = sample(decoder, 1, scale=info.scale, seed=index, class_index=index, max_len=info.max_seq_len)
        assert 2 <= len(sketch) < info.max_seq_len, f"{entry.name}: {name} drew {len(sketch)} points"
        assert np.isfinite(sketch).all() and sketch[-1, 2] == 1
        extent = np.ptp(np.cumsum(sketch[:, :2], axis=0), axis=0)
        assert (extent > 1).all(), f"{entry.name}: {name} drew a sketch {extent} units across"
