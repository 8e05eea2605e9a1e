"""Nothing non-finite reaches a file, malformed inputs end in one line, and a failed write
leaves no file: `sketchplot plot` and the readers and layout under it."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from sketchplot.cli import cli
from sketchplot.core.errors import SketchplotError
from sketchplot.core.formats import MAX_NDJSON_LINE_BYTES, InputError, SketchError, load_drawings, strokes_to_polylines
from sketchplot.plotter.layout import LayoutError, fit_drawing, layout_grid


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def write_npz(path, *sketches):
    array = np.empty(len(sketches), dtype=object)
    array[:] = [np.asarray(s, dtype=np.float64) for s in sketches]
    np.savez(path, test=array)
    return path


def one_error_line(result, message):
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert message in result.output
    assert [line.startswith("Error: ") for line in result.output.splitlines()][-1]
    assert sum(line.startswith("Error") for line in result.output.splitlines()) == 1


def test_offsets_whose_sum_overflows_are_refused_where_strokes_become_polylines():
    with pytest.raises(SketchError, match="offsets too large: the position at row 2 overflows"):
        strokes_to_polylines(np.array([[0, 0, 0], [1e308, 1e308, 0], [1e308, 1e308, 1]]))


def test_an_overflowing_sketch_writes_neither_gcode_nor_preview(tmp_path):
    npz = write_npz(tmp_path / "huge.npz", [[0, 0, 0], [1e308, -1e308, 0], [1e308, -1e308, 1]])
    gcode, preview = tmp_path / "out" / "huge.gcode", tmp_path / "out" / "huge.svg"
    one_error_line(run("plot", npz, "--gcode", gcode, "--preview", preview), "overflows")
    assert not gcode.exists() and not preview.exists()


@pytest.mark.parametrize(
    "drawing",
    [
        [np.array([1e308 + 0j, -1e308 + 0j])],  # finite points, infinite extent
        [np.array([np.inf + 0j, 1 + 1j])],
        [np.array([np.nan + 0j])],
        [np.array([1e308 + 0j, 1e308 + 1e-300j])],  # the centre overflows
    ],
)
def test_layout_refuses_non_finite_geometry(drawing):
    with pytest.raises(LayoutError, match="cannot"):
        fit_drawing(drawing, 0, 0, 100, 100)
    with pytest.raises(LayoutError, match="drawing 0: cannot"):
        layout_grid([drawing], page_mm=(210, 297))


def test_ndjson_with_1e308_coordinates_is_refused(tmp_path):
    path = tmp_path / "huge.ndjson"
    path.write_text(json.dumps({"drawing": [[[1e308, -1e308], [0, 0]]]}) + "\n")
    one_error_line(run("plot", path, "--gcode", tmp_path / "x.gcode"), "NaN, infinite or too large")
    assert not (tmp_path / "x.gcode").exists()


def test_an_ndjson_nested_100000_deep_is_one_line(tmp_path):
    path = tmp_path / "deep.ndjson"
    path.write_text('{"drawing": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    with pytest.raises(InputError, match="sketch 0: JSON nested too deeply"):
        load_drawings(path)


def test_an_ndjson_line_longer_than_the_limit_is_refused_before_parsing(tmp_path):
    path = tmp_path / "long.ndjson"
    path.write_text('{"drawing": [[[' + "1," * MAX_NDJSON_LINE_BYTES + "1], [1]]]}\n")
    with pytest.raises(InputError, match=r"long.ndjson:1: line longer than 1 MiB"):
        load_drawings(path)


@pytest.mark.parametrize(
    "record, message",
    [
        ([1, 2], "no 'drawing' list"),
        ({"drawing": "abc"}, "no 'drawing' list"),
        ({"drawing": [[[1, 2], [1]]]}, "a stroke has 2 x but 1 y coordinates"),
        ({"drawing": [[[[1, 2]], [[1, 2]]]]}, "not a list of numbers"),
        ({"drawing": [[[True, False], [1, 2]]]}, "not a list of numbers"),
        ({"drawing": [[[1], [2], [3], [4]]]}, "is not [xs, ys] or [xs, ys, times]"),
        ({"drawing": [[[10**400], [1]]]}, "too large to convert"),
    ],
)
def test_wrong_types_in_ndjson_are_one_line(tmp_path, record, message):
    path = tmp_path / "bad.ndjson"
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_drawings(path)


def test_ndjson_reads_only_as_far_as_the_selection(tmp_path):
    path = tmp_path / "many.ndjson"
    good = json.dumps({"drawing": [[[0, 10], [0, 10]]]})
    path.write_text(f"{good}\n{good}\n{{broken\n")
    assert len(load_drawings(path, indices=[1])) == 1
    with pytest.raises(InputError, match="index 5 out of range"):
        load_drawings(path, indices=[5])


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "cannot read SVG"),
        ('<svg xmlns="http://www.w3.org/2000/svg"></svg>', "contains no paths"),
        ('<svg xmlns="http://www.w3.org/2000/svg"><path d="M 1e308 0 L -1e308 0"/></svg>', "too large"),
    ],
)
def test_bad_svgs_are_one_line(tmp_path, content, message):
    path = tmp_path / "in.svg"
    path.write_text(content)
    with pytest.raises(SketchplotError, match=message):
        load_drawings(path)


def test_a_huge_circle_in_an_svg_is_cut_into_a_bounded_number_of_points(tmp_path):
    path = tmp_path / "circle.svg"
    path.write_text('<svg xmlns="http://www.w3.org/2000/svg"><circle cx="0" cy="0" r="1e9"/></svg>')
    (drawing,) = load_drawings(path)
    assert sum(len(line) for line in drawing) < 100_000


def test_an_oversized_svg_is_refused_by_its_size(tmp_path, monkeypatch):
    from sketchplot.core import formats

    monkeypatch.setattr(formats, "MAX_SVG_BYTES", 100)
    path = tmp_path / "big.svg"
    path.write_text('<svg xmlns="http://www.w3.org/2000/svg">' + " " * 200 + "</svg>")
    with pytest.raises(InputError, match="too large"):
        load_drawings(path)


@pytest.fixture
def failing_flush(monkeypatch):
    """The disk fills up when the file is flushed: the write fails after its content was given."""

    def full(_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)


def test_a_failed_gcode_write_leaves_no_file(tmp_path, failing_flush):
    npz = write_npz(tmp_path / "ok.npz", [[0, 0, 0], [10, 5, 0], [3, 8, 1]])
    gcode = tmp_path / "ok.gcode"
    one_error_line(run("plot", npz, "--gcode", gcode), "No space left on device")
    assert list(tmp_path.iterdir()) == [npz]


def test_a_failed_preview_write_leaves_no_file(tmp_path, failing_flush):
    npz = write_npz(tmp_path / "ok.npz", [[0, 0, 0], [10, 5, 0], [3, 8, 1]])
    one_error_line(run("plot", npz, "--preview", tmp_path / "ok.svg"), "cannot write preview")
    assert list(tmp_path.iterdir()) == [npz]


def test_a_failed_write_keeps_the_previous_file(tmp_path, failing_flush):
    npz = write_npz(tmp_path / "ok.npz", [[0, 0, 0], [10, 5, 0], [3, 8, 1]])
    gcode = tmp_path / "ok.gcode"
    gcode.write_text("previous\n")
    one_error_line(run("plot", npz, "--gcode", gcode), "cannot write G-code")
    assert gcode.read_text() == "previous\n"
