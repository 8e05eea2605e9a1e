"""One stroke-3 convention: what `sample -o` writes, plot, score, reconstruct and complete read
back exactly, without the treatment raw drawings get and without losing a first segment."""

import numpy as np
import pytest
from click.testing import CliRunner
from test_latent_commands import save_tiny

from sketchplot.cli import cli
from sketchplot.core.formats import (
    LENGTH_CAP_KEY,
    SKETCHES_KEY,
    from_origin,
    load_drawings,
    read_input_sketches,
    read_npz,
    read_sketch_file,
    strokes_to_polylines,
)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def sampled(tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCHPLOT_CONFIG_DIR", str(tmp_path / "config"))
    save_tiny(tmp_path / "config" / "models" / "tiny-vae", ["cat"], latent_size=8, encoder_layers=1, mu_norm_scale=0.6)
    save_tiny(tmp_path / "config" / "models" / "tiny-cat", ["cat"])
    path = tmp_path / "cats.npz"
    result = run("sample", "cat", "-n", 3, "-t", 0.4, "--seed", 2, "--max-len", 30, "-o", path)
    assert result.exit_code == 0, result.output
    assert "model: tiny-cat" in result.output  # every command names the model it picked
    return path


def test_the_file_holds_the_sketches_and_their_cap(sampled):
    sketches = read_npz(sampled, SKETCHES_KEY)
    assert len(sketches) == 3 and all(s.dtype == np.float32 and s.shape[1] == 3 for s in sketches)
    assert read_sketch_file(sampled).cap == 30 and LENGTH_CAP_KEY == "max_len"


def test_score_reads_every_sketch_exactly(sampled):
    written = read_npz(sampled, SKETCHES_KEY)
    for split in (None, SKETCHES_KEY):  # asking for the split by name loses nothing either
        read = read_sketch_file(sampled, split).sketches
        assert len(read) == 3 and all(np.array_equal(a, b) for a, b in zip(read, written))


def test_plot_draws_the_first_segment_from_the_origin(sampled):
    written = read_npz(sampled, SKETCHES_KEY)
    for split in ("test", SKETCHES_KEY):
        drawings = load_drawings(sampled, split=split, limit=3)
        for drawing, sketch in zip(drawings, written):
            expected = strokes_to_polylines(from_origin(sketch))
            assert len(drawing) == len(expected)
            assert all(np.array_equal(a, b) for a, b in zip(drawing, expected))
            assert drawing[0][0] == 0  # the pen starts at the origin: the first offset is drawn
    assert "3 sketch(es)" in run("plot", sampled, "--limit", 3, "--dry-run").output


def test_reconstruct_and_complete_read_the_sketches_as_they_are(sampled, tmp_path):
    written = read_npz(sampled, SKETCHES_KEY)
    read, hint = read_input_sketches(f"{sampled}:0-2")
    assert hint == "cats" and all(np.array_equal(a, b) for a, b in zip(read, written))
    for command in (["reconstruct", f"{sampled}:0", "-n", 1], ["complete", f"{sampled}:1", "cat", "-n", 1]):
        result = run(*command, "--dry-run", "-o", tmp_path / "out.npz")
        assert result.exit_code == 0, result.output
    ending = read_npz(tmp_path / "out.npz", SKETCHES_KEY)[0]
    prefix = written[1]
    assert np.array_equal(ending[: len(prefix)], prefix)  # the partial drawing, exactly
