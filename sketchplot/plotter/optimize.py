"""Pen-path optimisation judged by the machine's planned time, and the statistics that judge it.

All geometry is in vpype's unit (CSS px); tolerances are given in mm and converted here.
Order of the passes: linemerge (fewer pen lifts: ends closer than the merge tolerance are
joined with the pen down), reloop, the ink graph (``inkgraph``: strokes that touch or cross
become few pen-down paths that go back over drawn ink where that is quicker than a pen lift),
linesimplify (fewer segments), corner rounding (GRBL's
junction deviation slows the pen to a crawl at every sharp vertex; a short arc inside the
drawing tolerance keeps it moving), then linesort last so that it sees the final start and
end point of every path, and a two-opt on the planner's travel time after it.

The drawing tolerance is split so the three geometric changes together stay inside it: a
bridge of length m lies within m/2 of a stroke end, simplification moves the path by at most
s and rounding by at most c, so m/2 + s + c is the furthest any drawn point can stray.
"""

from __future__ import annotations

import cmath
import math
from dataclasses import dataclass

import numpy as np
import vpype as vp
from vpype_cli.operations import linesort as _linesort_command

from sketchplot.core.errors import SketchplotError
from sketchplot.core.profiles import MachineProfile
from sketchplot.plotter.inkgraph import ink_paths

PX_PER_MM = vp.convert_length("mm")

# vpype-cli's ``linesort`` command body (greedy nearest-neighbour + optional two-opt), without
# the click/layer plumbing around it: reusing it keeps our result identical to vpype's.
vpype_linesort = _linesort_command.callback.__wrapped__


DEFAULT_DRAWING_TOLERANCE_MM = 0.3
# Shares of the drawing tolerance (see the module docstring): bridge length, simplification,
# corner cut. 0.8 / 2 + 0.05 + 0.5 = 0.95, the rest left for rounding to the G-code's decimals.
# Measured on 100 cats: corners gain most, then joins; sketches come simplified already.
MERGE_SHARE, SIMPLIFY_SHARE, CORNER_SHARE = 0.8, 0.05, 0.5


@dataclass(frozen=True)
class OptimizeOptions:
    """Which passes to run. Tolerances in mm; None: the share of the drawing tolerance (the
    machine profile's ``drawing_tolerance`` unless ``tolerance_mm`` is given)."""

    linemerge: bool = True
    merge_tolerance_mm: float | None = None
    merge_flip: bool = True
    reloop: bool = False  # random seams on closed paths: a visual choice, not a travel saving
    reloop_tolerance_mm: float = 0.05
    linesimplify: bool = True
    simplify_tolerance_mm: float | None = None
    retrace: bool = True  # the ink graph: reach touching strokes over drawn ink, not by a pen lift
    round_corners: bool = True
    corner_tolerance_mm: float | None = None
    linesort: bool = True
    sort_flip: bool = True
    two_opt: bool = True
    two_opt_passes: int = 250
    time_sort: bool = False  # two-opt on the planner travel time after the distance sort: slow, small gain
    by_sketch: bool = False  # finish each sketch before the next (a grid fills cell by cell)
    tolerance_mm: float | None = None

    def __post_init__(self):
        for name in (
            "merge_tolerance_mm",
            "reloop_tolerance_mm",
            "simplify_tolerance_mm",
            "corner_tolerance_mm",
            "tolerance_mm",
        ):
            value = getattr(self, name)
            if value is not None and not 0 <= value < math.inf:  # NaN fails too
                raise SketchplotError(f"optimisation tolerance {name} must be finite and not negative")
        if self.two_opt_passes < 1:
            raise SketchplotError("two-opt passes must be at least 1")

    def tolerances(self, profile: MachineProfile | None) -> tuple[float, float, float]:
        """(merge, simplify, corner) tolerances in mm for this machine."""
        tolerance = self.tolerance_mm
        if tolerance is None:
            tolerance = profile.drawing_tolerance if profile is not None else DEFAULT_DRAWING_TOLERANCE_MM

        def given_or_share(value: float | None, share: float) -> float:
            return value if value is not None else share * tolerance

        return (
            given_or_share(self.merge_tolerance_mm, MERGE_SHARE),
            given_or_share(self.simplify_tolerance_mm, SIMPLIFY_SHARE),
            given_or_share(self.corner_tolerance_mm, CORNER_SHARE),
        )


NO_OPTIMIZATION = OptimizeOptions(
    linemerge=False, reloop=False, linesimplify=False, round_corners=False, linesort=False, time_sort=False
)


@dataclass(frozen=True)
class PathStats:
    """What a plot costs: ink length, pen-up travel between paths, and pen lifts (= paths)."""

    pen_down_mm: float
    pen_up_mm: float
    pen_lifts: int
    segments: int

    def describe(self) -> str:
        return (
            f"pen down {self.pen_down_mm:.0f} mm, pen up {self.pen_up_mm:.0f} mm, "
            f"{self.pen_lifts} pen lifts, {self.segments} segments"
        )


def path_stats(document: vp.Document) -> PathStats:
    """Statistics of a document, layers plotted in id order; travel counted as vpype does
    (from each path's end to the next path's start, including from one layer to the next)."""
    lines = [line for layer_id in sorted(document.layers) for line in document.layers[layer_id].lines]
    pen_down = sum(float(np.abs(np.diff(line)).sum()) for line in lines)
    if len(lines) > 1:
        ends = np.array([line[-1] for line in lines[:-1]])
        starts = np.array([line[0] for line in lines[1:]])
        pen_up = float(np.abs(starts - ends).sum())
    else:
        pen_up = 0.0
    segments = sum(len(line) - 1 for line in lines)
    return PathStats(pen_down / PX_PER_MM, pen_up / PX_PER_MM, len(lines), segments)


def simplify_lines(lines: vp.LineCollection, tolerance_px: float) -> vp.LineCollection:
    """vpype's linesimplify (shapely Douglas-Peucker, preserve_topology=False) applied to the
    lines with three or more points; two-point lines and dots are kept as they are, since
    shapely cannot build a MultiLineString from zero-length pieces."""
    long_lines = vp.LineCollection([line for line in lines.lines if len(line) > 2])
    if len(long_lines):
        mls = long_lines.as_mls().simplify(tolerance=tolerance_px, preserve_topology=False)
        long_lines = vp.LineCollection(mls)
    result = lines.clone()
    result.extend(long_lines)
    result.extend([line for line in lines.lines if len(line) <= 2])
    return result


@dataclass(frozen=True)
class Dynamics:
    """What the planner needs to time a pen-up travel and a corner: per-axis max rates (mm/s)
    and accelerations (mm/s^2), the draw speed (mm/s) and junction deviation (mm), in px."""

    max_rate: tuple[float, float]
    acceleration: tuple[float, float]
    draw_speed: float
    junction_deviation: float
    pen_change_s: float  # lifting and lowering the pen once: both dwells, and the Z moves

    @classmethod
    def of(cls, profile: MachineProfile) -> Dynamics:
        rates = tuple(r / 60.0 * PX_PER_MM for r in profile.max_rate)
        accels = tuple(a * PX_PER_MM for a in profile.acceleration)
        draw = min(profile.draw_feed / 60.0, *(r / 60.0 for r in profile.max_rate)) * PX_PER_MM
        pen = profile.pen
        lift = 0.0
        if pen.method == "z":
            z_rate, z_accel = pen.z_feed / 60.0, min(profile.acceleration)
            lift = abs(pen.up - pen.down) / z_rate + z_rate / z_accel
        settles = pen.settle_after(True) + pen.settle_after(False)
        return cls(rates, accels, draw, profile.junction_deviation * PX_PER_MM, settles + 2 * lift)

    def travel_seconds(self, delta: np.ndarray) -> np.ndarray:
        """GRBL's time for rapid moves from rest to rest (pen changes stop the machine at both
        ends), vectorised over complex displacements: rate and acceleration as the planner
        limits them along the move direction."""
        length = np.abs(delta)
        with np.errstate(divide="ignore", invalid="ignore"):
            ux, uy = np.abs(delta.real) / length, np.abs(delta.imag) / length
            rate = np.minimum(self.max_rate[0] / ux, self.max_rate[1] / uy)
            accel = np.minimum(self.acceleration[0] / ux, self.acceleration[1] / uy)
            cruising = length / rate + rate / accel
            short = 2.0 * np.sqrt(length / accel)
        seconds = np.where(length >= rate * rate / accel, cruising, short)
        return np.where(length > 0, seconds, 0.0)

    def fast_turn(self) -> float:
        """The largest turn (radians) GRBL takes without slowing below the draw speed: junction
        speed^2 = a * deviation * sin(theta/2) / (1 - sin(theta/2)), theta the angle between
        the reversed incoming and the outgoing direction (pi minus the turn)."""
        accel = min(self.acceleration)
        if self.junction_deviation <= 0:
            return 0.0
        # sin(theta/2) = k / (1 + k) with k = v^2 / (a * deviation); turn = pi - theta
        k = self.draw_speed**2 / (accel * self.junction_deviation)
        return math.pi - 2.0 * math.asin(k / (1.0 + k))


# Going back over ink costs its length at the draw speed plus a stop where the pen reverses; a
# pen lift costs its dwells and two stops. Retrace at most this share of what the lift costs.
RETRACE_SHARE = 1.0
MIN_ARC_CHORD_MM = 0.05  # arc pieces shorter than this are more G-code lines than they save time
MAX_ARC_PIECES = 8


def round_corners(line: np.ndarray, cut_px: float, fast_turn: float) -> np.ndarray:
    """``line`` with every vertex that turns more than ``fast_turn`` replaced by a short
    circular arc tangent to both segments, at most ``cut_px`` from the vertex and using at
    most half of each segment, in pieces that each turn at most ``fast_turn``: the planner
    keeps the pen moving through the corner instead of braking to junction speed."""
    if len(line) < 3 or cut_px <= 0 or fast_turn <= 0:
        return line
    points = line.tolist()  # Python complex numbers: this loop runs per vertex of the page
    out = [points[0]]
    min_chord = MIN_ARC_CHORD_MM * PX_PER_MM
    for before_point, vertex, after_point in zip(points, points[1:], points[2:]):
        incoming, outgoing = vertex - before_point, after_point - vertex
        before, after = abs(incoming), abs(outgoing)
        if before == 0 or after == 0:
            out.append(vertex)
            continue
        u1 = incoming / before
        signed_turn = cmath.phase((outgoing / after) / u1)
        turn = abs(signed_turn)
        if turn <= fast_turn or turn > math.pi - 1e-6:
            out.append(vertex)
            continue
        half = turn / 2.0
        pieces = min(MAX_ARC_PIECES, math.ceil(turn / fast_turn))
        while True:
            # the vertex lies radius / cos(half) from the centre, the pieces' midpoints
            # radius * cos(turn / 2 / pieces): their difference is the cut
            radius = cut_px / (1.0 / math.cos(half) - math.cos(half / pieces))
            tangent = min(radius * math.tan(half), 0.5 * before, 0.5 * after)
            radius = tangent / math.tan(half)
            if pieces < 2 or 2.0 * radius * math.sin(half / pieces) >= min_chord:
                break
            pieces -= 1
        if pieces < 2:
            out.append(vertex)
            continue
        start = vertex - u1 * tangent
        centre = start + u1 * radius * (1j if signed_turn > 0 else -1j)
        offset = start - centre
        out.extend(centre + offset * cmath.exp(1j * signed_turn * k / pieces) for k in range(pieces + 1))
    out.append(points[-1])
    return np.asarray(out, dtype=complex)


def time_two_opt(lines: list[np.ndarray], dynamics: Dynamics, passes: int) -> list[np.ndarray]:
    """Two-opt on the planner's travel time between paths (vpype's optimises distance, but a
    rapid's time grows with the square root of a short distance): reverse a run of paths when
    that shortens the travel time. The first and the last path stay in place, so the travel
    from and back to the park position is unchanged, and each move only lowers the time."""
    count = len(lines)
    if count < 4:
        return lines
    starts = np.array([line[0] for line in lines])
    ends = np.array([line[-1] for line in lines])
    order = np.arange(count)  # ~index: the path reversed
    cost = dynamics.travel_seconds
    for _ in range(passes):
        improved = False
        for mid in range(1, count - 1):
            mid_source, mid_dest = ends[mid - 1], starts[mid]
            tail_ends, next_starts = ends[mid : count - 1], starts[mid + 1 :]
            delta = (
                cost(mid_source - tail_ends)
                + cost(mid_dest - next_starts)
                - cost(tail_ends - next_starts)
                - cost(np.atleast_1d(mid_source - mid_dest))
            )
            index = int(np.argmin(delta))
            if delta[index] < -1e-9:
                span = slice(mid, mid + index + 1)
                starts[span], ends[span] = ends[span][::-1].copy(), starts[span][::-1].copy()
                order[span] = ~order[span][::-1]
                improved = True
        if not improved:
            break
    return [lines[k] if k >= 0 else lines[~k][::-1] for k in order]


def optimize_lines(
    lines: vp.LineCollection, options: OptimizeOptions, profile: MachineProfile | None = None
) -> vp.LineCollection:
    """One layer through the enabled passes; returns a new LineCollection. Without a profile
    the corners and the time sort have no machine to plan for and are left out."""
    merge_mm, simplify_mm, corner_mm = options.tolerances(profile)
    dynamics = Dynamics.of(profile) if profile is not None else None
    result = lines.clone(lines)
    if options.linemerge:
        result.merge(tolerance=merge_mm * PX_PER_MM, flip=options.merge_flip)
    if options.reloop:
        result.reloop(tolerance=options.reloop_tolerance_mm * PX_PER_MM)
    if options.retrace and dynamics is not None:
        reach = dynamics.draw_speed * dynamics.pen_change_s * RETRACE_SHARE
        result = result.clone(ink_paths(list(result.lines), merge_mm * PX_PER_MM, reach))
    if options.linesimplify:
        result = simplify_lines(result, simplify_mm * PX_PER_MM)
    if options.round_corners and dynamics is not None:
        turn = dynamics.fast_turn()
        result = result.clone([round_corners(line, corner_mm * PX_PER_MM, turn) for line in result.lines])
    if options.linesort:
        result = vpype_linesort(
            result, no_flip=not options.sort_flip, two_opt=options.two_opt, passes=options.two_opt_passes
        )
        if options.time_sort and options.sort_flip and dynamics is not None:
            result = result.clone(time_two_opt(list(result.lines), dynamics, options.two_opt_passes))
    return result


def optimize_document(
    document: vp.Document,
    options: OptimizeOptions,
    profile: MachineProfile | None = None,
    sketch_lines: dict[int, list[int]] | None = None,
) -> vp.Document:
    """A copy of the document with every layer optimised; page size and metadata kept. With
    ``options.by_sketch``, ``sketch_lines[layer_id]`` gives how many consecutive lines of the
    layer each sketch has, and each sketch is optimised on its own, in page order."""
    optimized = document.clone()
    for layer_id in document.layers:
        layer = document.layers[layer_id]
        if options.by_sketch and sketch_lines is not None:
            result, start = layer.clone(), 0
            for count in sketch_lines.get(layer_id, []):
                result.extend(optimize_lines(layer.clone(layer.lines[start : start + count]), options, profile))
                start += count
        else:
            result = optimize_lines(layer, options, profile)
        optimized.add(result, layer_id, with_metadata=True)
    return optimized
