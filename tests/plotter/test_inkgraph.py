"""The ink graph: strokes that touch or cross are drawn as few pen-down paths, going back over
drawn ink only where that is shorter than what a lift costs, and never drawing new ink."""

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchplot.plotter.inkgraph import extend_onto_ink, ink_paths


def segments(lines: list[np.ndarray]) -> shapely.MultiLineString:
    return shapely.MultiLineString(
        [[(a.real, a.imag), (b.real, b.imag)] for line in lines for a, b in zip(line, line[1:]) if a != b]
    )


def length(lines: list[np.ndarray]) -> float:
    return float(sum(np.abs(np.diff(line)).sum() for line in lines))


PLUS = [np.array([-10, 10], dtype=complex), np.array([-10j, 10j])]


def test_crossing_strokes_go_straight_through_the_crossing():
    star = [np.array([-1, 1]) * 10 * np.exp(1j * np.pi * k / 5) for k in range(5)]  # ten arms, one node
    paths = ink_paths(star, join_px=0.5, reach_px=0.0)  # nothing worth retracing: a path per odd pair
    assert len(paths) == 5
    for path in paths:
        steps = np.diff(path)
        assert np.allclose(steps / np.abs(steps), steps[0] / abs(steps[0]))


def test_a_retrace_shorter_than_a_lift_saves_it():
    paths = ink_paths(PLUS, join_px=0.5, reach_px=20.5)  # back over two arms, from one end to another
    assert len(paths) == 1
    assert length(paths) == 60.0
    assert len(ink_paths(PLUS, join_px=0.5, reach_px=19.5)) == 2


def test_a_stroke_ending_near_a_line_is_joined_onto_it_within_the_tolerance():
    tee = [np.array([0, 20], dtype=complex), np.array([10 + 0.4j, 10 + 10j])]
    assert len(ink_paths(tee, join_px=0.5, reach_px=15)) == 1
    assert len(ink_paths(tee, join_px=0.3, reach_px=15)) == 2  # further off the line than the join


def test_ends_close_together_meet_end_to_end():
    extended = extend_onto_ink([np.array([0, 10], dtype=complex), np.array([10.2, 20], dtype=complex)], join_px=0.5)
    assert sum(len(line) for line in extended) == 5  # one bridge, not one each way
    assert len(ink_paths(extended, join_px=0.5, reach_px=0)) == 1


def test_dots_are_kept():
    paths = ink_paths([np.array([5 + 5j]), np.array([1, 1], dtype=complex), *PLUS], join_px=0.5, reach_px=0)
    assert sum(len(path) == 1 or np.all(path == path[0]) for path in paths) == 2


def test_strokes_too_short_to_node_are_kept_as_they_are():
    tiny = [np.array([0, 1e-3], dtype=complex)]
    assert [line.tolist() for line in ink_paths(tiny, join_px=1.9, reach_px=100)] == [[0, 1e-3]]


# strokes on a coarse grid so that they often touch, cross and overlap
coordinate = st.integers(min_value=0, max_value=8).map(float)
point = st.builds(complex, coordinate, coordinate)
strokes = st.lists(st.lists(point, min_size=2, max_size=6).map(np.array), min_size=1, max_size=8)


@settings(max_examples=80, deadline=None)
@given(strokes, st.sampled_from([0.0, 3.0, 1000.0]))
def test_paths_draw_the_ink_and_only_the_ink(lines, reach):
    lines = [line for line in lines if np.any(line != line[0])]
    if not lines:
        return
    join = 0.25
    paths = ink_paths(lines, join_px=join, reach_px=reach)
    ink, drawn = segments(lines), segments(paths)
    # nothing new: every drawn point lies on the ink or on a bridge within join / 2 of it
    points = shapely.points(shapely.get_coordinates(shapely.segmentize(drawn, 0.05)))
    assert ink.distance(points).max() <= join / 2 + 1e-6
    # nothing lost: every point of the ink is drawn
    points = shapely.points(shapely.get_coordinates(shapely.segmentize(ink, 0.05)))
    assert drawn.distance(points).max() <= 1e-6
    # each retrace, one per lift saved, is at most ``reach`` long
    bridges = join * 2 * len(lines)
    assert length(paths) <= length(lines) + reach * len(lines) + bridges + 1e-6
    if reach >= length(lines):  # retracing anything pays: one path per connected piece of the drawing
        assert len(paths) == shapely.get_num_geometries(shapely.buffer(drawn, 1e-6)) <= len(lines)
