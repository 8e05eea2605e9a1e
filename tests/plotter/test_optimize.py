import numpy as np
import pytest
import vpype as vp

from sketchplot.core.errors import SketchplotError
from sketchplot.plotter.layout import PX_PER_MM
from sketchplot.plotter.optimize import (
    NO_OPTIMIZATION,
    OptimizeOptions,
    optimize_document,
    optimize_lines,
    path_stats,
    vpype_linesort,
)
from sketchplot.plotter.pipeline import plot_page


def mm_lines(*lines):
    return vp.LineCollection([np.asarray(line, dtype=complex) * PX_PER_MM for line in lines])


def test_stats_count_ink_travel_and_lifts():
    document = vp.Document(mm_lines([0, 10], [13 + 4j, 13 + 14j]), page_size=(100, 100))
    stats = path_stats(document)
    assert stats.pen_down_mm == pytest.approx(20)
    assert stats.pen_up_mm == pytest.approx(5)
    assert stats.pen_lifts == 2 and stats.segments == 2


def test_no_optimization_keeps_the_geometry():
    lines = mm_lines([0, 10, 10 + 10j], [3, 4])
    result = optimize_lines(lines, NO_OPTIMIZATION)
    assert len(result) == 2
    for before, after in zip(lines.lines, result.lines):
        np.testing.assert_array_equal(before, after)


def test_linemerge_joins_touching_strokes_within_tolerance():
    lines = mm_lines([0, 10], [10.05, 20], [50, 60])
    merged = optimize_lines(lines, OptimizeOptions(linesort=False, linesimplify=False, merge_tolerance_mm=0.1))
    assert len(merged) == 2
    apart = optimize_lines(lines, OptimizeOptions(linesort=False, linesimplify=False, merge_tolerance_mm=0.01))
    assert len(apart) == 3


def test_linesimplify_drops_collinear_points_and_keeps_dots():
    lines = mm_lines([0, 1, 2, 3, 3 + 3j], [7 + 7j, 7 + 7j])
    result = optimize_lines(lines, OptimizeOptions(linemerge=False, linesort=False, simplify_tolerance_mm=0.05))
    assert sorted(len(line) for line in result.lines) == [2, 3]


def test_reloop_keeps_closed_paths_closed():
    square = [0, 10, 10 + 10j, 10j, 0]
    result = optimize_lines(mm_lines(square), OptimizeOptions(reloop=True, linemerge=False, linesimplify=False))
    line = result.lines[0] / PX_PER_MM
    assert line[0] == pytest.approx(line[-1])
    assert np.abs(np.diff(line)).sum() == pytest.approx(40)


def test_options_are_validated():
    with pytest.raises(SketchplotError, match="negative"):
        OptimizeOptions(merge_tolerance_mm=-1)


def test_optimisation_on_real_cats_beats_plain_vpype_linesort(real_cats):
    result = plot_page(real_cats[:30], paper="a4", optimize=OptimizeOptions())
    before, after = result.stats_before, result.stats_after
    assert after.pen_up_mm < 0.6 * before.pen_up_mm
    assert after.pen_lifts <= before.pen_lifts
    assert after.pen_down_mm == pytest.approx(before.pen_down_mm, rel=1e-3)  # ink is not lost
    plain = vp.Document(page_size=result.document.page_size)
    unoptimised = plot_page(real_cats[:30], paper="a4", optimize=NO_OPTIMIZATION).document
    plain.add(
        vpype_linesort(unoptimised.layers[1].clone(unoptimised.layers[1]), no_flip=False, two_opt=False, passes=1), 1
    )
    assert after.pen_up_mm <= path_stats(plain).pen_up_mm


def test_optimize_document_keeps_page_size():
    document = vp.Document(mm_lines([0, 10], [20, 30]), page_size=(300.0, 200.0))
    assert optimize_document(document, OptimizeOptions()).page_size == (300.0, 200.0)
