"""Paths optimised for the planner's time: joins within the tolerance, the drawing within the
tolerance, corners and sorting that the estimate rewards, and the profile setting behind it."""

import dataclasses

import numpy as np
import pytest
import shapely
import vpype as vp
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchplot.core.profiles import ProfileError, load_profile, profile_from_dict
from sketchplot.gcode.estimate import estimate_gcode
from sketchplot.gcode.writer import write_gcode
from sketchplot.plotter.layout import PX_PER_MM
from sketchplot.plotter.optimize import (
    NO_OPTIMIZATION,
    OptimizeOptions,
    optimize_lines,
    round_corners,
)
from sketchplot.plotter.pipeline import plot_page

PROFILE = load_profile("a3-servo")


def mm_lines(lines) -> vp.LineCollection:
    return vp.LineCollection([np.asarray(line, dtype=complex) * PX_PER_MM for line in lines])


def as_mm(collection: vp.LineCollection) -> list[np.ndarray]:
    return [np.asarray(line) / PX_PER_MM for line in collection.lines]


def geometry(lines: list[np.ndarray]) -> shapely.MultiLineString:
    return shapely.MultiLineString([np.column_stack([line.real, line.imag]) for line in lines])


def furthest(source: list[np.ndarray], target: list[np.ndarray]) -> float:
    """Largest distance from a point of ``source`` (densified to 0.01 mm) to ``target``."""
    points = shapely.get_coordinates(shapely.segmentize(geometry(source), 0.01))
    return float(geometry(target).distance(shapely.points(points)).max())


# points on a 0.01 mm grid in a 40 mm cell, as laid-out sketches are
grid = st.integers(min_value=0, max_value=4000)
points = st.builds(lambda x, y: complex(x, y) / 100, grid, grid)
strokes = st.lists(st.lists(points, min_size=2, max_size=12), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(strokes, st.sampled_from([0.1, 0.3, 1.0]))
def test_joins_never_bridge_strokes_further_apart_than_the_merge_tolerance(lines, tolerance):
    """Every segment of the result is a piece of an original segment (retracing goes back over
    ink) or a bridge no longer than the merge tolerance."""
    lines = [np.asarray(line) for line in lines]
    options = OptimizeOptions(tolerance_mm=tolerance, linesimplify=False, round_corners=False, linesort=False)
    merge_mm = options.tolerances(PROFILE)[0]
    assert merge_mm <= tolerance
    original = shapely.get_parts(
        shapely.MultiLineString(
            [np.column_stack([[a.real, b.real], [a.imag, b.imag]]) for line in lines for a, b in zip(line, line[1:])]
        )
    )
    for line in as_mm(optimize_lines(mm_lines(lines), options, PROFILE)):
        for a, b in zip(line, line[1:]):
            if abs(b - a) <= merge_mm + 1e-9:
                continue
            ends = shapely.points([[a.real, a.imag], [b.real, b.imag]])
            on_ink = (shapely.distance(original[:, None], ends[None, :]) < 1e-6).all(axis=1)
            assert on_ink.any(), f"segment {a} -> {b} bridges more than {merge_mm} mm"


@settings(max_examples=60, deadline=None)
@given(strokes, st.sampled_from([0.1, 0.3, 1.0]))
def test_the_drawn_path_stays_within_the_tolerance_both_ways(lines, tolerance):
    lines = [np.asarray(line) for line in lines if abs(np.diff(line)).sum() > 0]
    if not lines:
        return
    profile = dataclasses.replace(PROFILE, drawing_tolerance=tolerance)
    drawn = as_mm(optimize_lines(mm_lines(lines), OptimizeOptions(), profile))
    assert furthest(drawn, lines) <= tolerance
    assert furthest(lines, drawn) <= tolerance


def test_retracing_joins_a_stroke_that_starts_on_the_ink_just_drawn():
    lines = [np.array([0, 20]), np.array([15 + 0.1j, 15 + 10j])]  # a T: the second starts on the first
    options = OptimizeOptions(round_corners=False, linesimplify=False)
    assert len(optimize_lines(mm_lines(lines), options, PROFILE)) == 1
    assert len(optimize_lines(mm_lines(lines), dataclasses.replace(options, retrace=False), PROFILE)) == 2
    far = [np.array([0, 20]), np.array([15 + 1j, 15 + 10j])]  # 1 mm off the ink: a lift
    assert len(optimize_lines(mm_lines(far), options, PROFILE)) == 2


def test_round_corners_keeps_the_corner_within_the_cut_and_the_ends():
    corner = np.array([0, 10, 10 + 10j]) * PX_PER_MM
    rounded = round_corners(corner, 0.1 * PX_PER_MM, fast_turn=0.1)
    assert rounded[0] == corner[0] and rounded[-1] == corner[-1] and len(rounded) > 3
    assert furthest([rounded / PX_PER_MM], [corner / PX_PER_MM]) <= 0.1 + 1e-9
    assert furthest([corner / PX_PER_MM], [rounded / PX_PER_MM]) <= 0.1 + 1e-9


def page_time(sketches, options: OptimizeOptions, profile=PROFILE) -> float:
    result = plot_page(sketches, paper=profile.paper, optimize=options, profile=profile)
    return estimate_gcode(write_gcode(result.document, profile), profile).seconds


def test_rounded_corners_plot_faster_than_sharp_ones():
    zigzag = [np.array([0, 0, 0], float)] + [[10.0, (-1) ** k * 10, 0] for k in range(120)]
    sketch = np.array(zigzag, dtype=float)
    sharp = page_time([sketch], OptimizeOptions(round_corners=False))
    assert page_time([sketch], OptimizeOptions()) < 0.9 * sharp


@pytest.mark.parametrize("name", ["a3-servo", "a4-zaxis"])
def test_time_sort_is_never_slower_than_the_distance_sort(real_cats, name):
    profile = load_profile(name)
    cats = real_cats[:30]
    by_distance = page_time(cats, OptimizeOptions(time_sort=False), profile)
    assert page_time(cats, OptimizeOptions(time_sort=True), profile) <= by_distance + 1e-6


def test_by_sketch_finishes_each_sketch_before_the_next():
    left = np.array([[0, 0, 0], [10, 0, 1], [0, 10, 0], [10, 0, 1]], float)
    result = plot_page([left, left, left], paper="a4", grid=(1, 3), optimize=OptimizeOptions(by_sketch=True))
    lefts = [min(line.real.min(), line[-1].real) for line in result.document.layers[1].lines]
    assert lefts == sorted(lefts)
    whole = plot_page([left] * 3, paper="a4", grid=(1, 3), optimize=NO_OPTIMIZATION).document
    assert len(result.document.layers[1]) <= len(whole.layers[1])


def test_the_estimate_says_how_the_time_splits(real_cats):
    result = plot_page(real_cats[:4], paper="a3", profile=PROFILE)
    estimate = estimate_gcode(write_gcode(result.document, PROFILE), PROFILE)
    parts = estimate.drawing_s + estimate.travel_s + estimate.pen_change_s
    assert parts == pytest.approx(estimate.seconds)
    assert estimate.pen_change_s >= estimate.dwell_s > 0 and estimate.drawing_s > estimate.travel_s > 0
    assert "of which drawing" in estimate.describe()


@pytest.mark.parametrize("value, problem", [(-0.1, "0..2"), (5, "0..2"), ("thin", "a number")])
def test_drawing_tolerance_is_validated_in_one_line(value, problem):
    with pytest.raises(ProfileError, match=f"drawing_tolerance must be {problem}"):
        profile_from_dict({"name": "x", "drawing_tolerance": value})
