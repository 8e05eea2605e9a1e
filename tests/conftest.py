"""Shared fixtures: the Quick, Draw! subset in ../shared (tests may read it; users won't have it)."""

from pathlib import Path

import pytest

from sketchplot.core.formats import read_npz

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
QUICKDRAW = SHARED / "data" / "quickdraw"
PRETRAINED = SHARED / "data" / "pretrained"


@pytest.fixture(autouse=True)
def isolated_user_config(tmp_path_factory, monkeypatch):
    """No test sees the user's config folder or SKETCHPLOT_* variables: each starts from an
    empty config folder of its own (tests that need settings set them)."""
    import os

    for variable in [name for name in os.environ if name.startswith("SKETCHPLOT_")]:
        monkeypatch.delenv(variable)
    monkeypatch.setenv("SKETCHPLOT_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))


def load_npz_split(name: str, split: str = "test"):
    return read_npz(QUICKDRAW / f"{name}.npz", split)


@pytest.fixture(scope="session")
def real_cats():
    """Real Quick, Draw! cats from the test split (stroke-3 int16, row 0 = absolute start)."""
    if not (QUICKDRAW / "cat.npz").exists():
        pytest.skip("../shared/data/quickdraw is not available")
    return load_npz_split("cat", "test")


@pytest.fixture(scope="session")
def cat_npz():
    path = QUICKDRAW / "cat.npz"
    if not path.exists():
        pytest.skip("../shared/data/quickdraw is not available")
    return path
