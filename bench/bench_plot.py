"""Our plot against vpype's, judged by the GRBL planner's estimated time, on every shipped profile.

Two pages per profile, laid out on the profile's paper: the first 100 cats of the cat.npz test
split in a 10x10 grid, and 12 cats sampled by the shipped model (seed 1, temperature 0.5) as
`draw` makes them. For each page it prints, side by side, the estimated plot time of

- vpype: vpype-cli's `linemerge linesort --two-opt` on the laid-out page, then vpype-gcode's
  `gwrite` with a profile generated from the machine profile (same feeds, pen commands and
  dwells, same coordinate flip);
- ours: `sketchplot plot` defaults for that machine, and with each lever switched off in turn;

with the ratio to vpype (target <= 0.8), pen lifts, how the time splits (drawing, travel, pen
changes), and the Hausdorff distance of the drawn path (read back from the G-code) from the
original strokes, both ways, on paths densified to 0.05 mm (target <= the profile's
drawing_tolerance). Under each page, three floors no pen path can beat that draws every
stroke's full length: the ink at the draw feed and one pen lift per piece of ink (strokes a
pen-down path can hop between within the tolerance are one piece); then also the least
rapids from the job's start through every piece to the park position (a Held-Karp bound on
per-axis rapid times) and the ramps of starting and stopping each piece's path; then also the
least that the odd nodes of the ink cost beyond one path a piece, each going back over ink or
lifting the pen once more (what is left between it and ours is the travel the order adds,
corners, and retraces and lifts beyond the least). A last row takes off a rough allowance
for a path that cuts stroke ends and turns short within the tolerance instead.
Then the time of layout + optimisation + G-code for the 100 cats on a3-servo
(target < 1 s). ``--lift-settle S`` gives every servo profile a dwell of S seconds after pen-up
(``pen.lift_settle_s``), for vpype's G-code as for ours.

    python bench/bench_plot.py [--repeat 3] [--profiles a3-servo,a4-servo,a4-zaxis] [--no-levers] [--lift-settle 0.1]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
import vpype as vp
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra, minimum_spanning_tree, shortest_path
from scipy.spatial import cKDTree

from sketchplot.app.pages import PageSettings, build_page
from sketchplot.app.sketches import Sampling, sample_class
from sketchplot.core.formats import from_origin, read_npz
from sketchplot.core.grbl.interpreter import Interpreter, Motion, PenChange
from sketchplot.core.profiles import MachineProfile, available_profiles, load_profile
from sketchplot.gcode.estimate import PlotEstimate, estimate_gcode
from sketchplot.gcode.reader import read_gcode
from sketchplot.gcode.writer import PX_PER_MM, write_gcode
from sketchplot.plotter.inkgraph import DIJKSTRA_BATCH, InkGraph, as_xy, extend_onto_ink, noded_pieces
from sketchplot.plotter.optimize import NO_OPTIMIZATION, Dynamics, OptimizeOptions
from sketchplot.plotter.pipeline import plot_page

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "quickdraw" / "cat.npz"
DENSIFY_MM = 0.05
EXACT_GAP_MM = 50.0  # pieces further apart than this: the travel floor takes their bounding boxes' gap
LEVERS = {
    "no ink graph (no retrace)": {"retrace": False},
    "no corner rounding": {"round_corners": False},
    "with time sort": {"time_sort": True},
    "no simplify": {"linesimplify": False},
    "merge 0.05 mm (vpype's)": {"merge_tolerance_mm": 0.05},
    "by sketch": {"by_sketch": True},
}


def gwrite_profile(profile: MachineProfile) -> dict:
    """A vpype-gcode gwrite profile with the machine's feeds, pen commands, dwells and flip."""
    pen, decimals = profile.pen, profile.decimals
    if pen.method == "servo":
        down, up = f"M3 S{pen.down:g}\n", f"M3 S{pen.up:g}\n"
    else:
        down, up = f"G1 Z{pen.down:g} F{pen.z_feed:g}\n", f"G0 Z{pen.up:g}\n"
    settle_down, settle_up = (
        f"G4 P{pen.settle_after(down):g}\n" if pen.settle_after(down) > 0 else "" for down in (True, False)
    )
    park_x, park_y = profile.park_position
    right, bottom = profile.origin.endswith("right"), profile.origin.startswith("bottom")
    return {
        "document_start": "G21\nG90\n" + ("$H\n" if profile.homing else "") + up + settle_up,
        "segment_first": f"G0 X{{x:.{decimals}f}} Y{{y:.{decimals}f}}\n" + down + settle_down,
        "segment": f"G1 X{{x:.{decimals}f}} Y{{y:.{decimals}f}} F{profile.draw_feed:g}\n",
        "line_end": up + settle_up,
        "document_end": f"G0 X{park_x:g} Y{park_y:g}\n" + (profile.program_end + "\n" if profile.program_end else ""),
        "unit": "mm",
        # gwrite translates, then flips about the page centre: a flipped axis takes -min
        "offset_x": -profile.x_min if right else profile.x_min,
        "offset_y": -profile.y_min if bottom else profile.y_min,
        "horizontal_flip": right,
        "vertical_flip": bottom,
    }


def vpype_gcode(document: vp.Document, profile: MachineProfile) -> str:
    """vpype's `linemerge linesort --two-opt gwrite` on the laid-out page."""
    import vpype_cli
    import vpype_gcode  # noqa: F401  (registers gwrite and its config)

    vp.config_manager.config.setdefault("gwrite", {})["sketchplot-bench"] = gwrite_profile(profile)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vpype.gcode"
        vpype_cli.execute(f"linemerge linesort --two-opt gwrite -p sketchplot-bench '{path}'", document=document)
        return path.read_text()


def drawn_segments(gcode: str, profile: MachineProfile) -> shapely.MultiLineString:
    """What the pen draws, machine mm: its pen-down moves, and a zero-length line where it
    goes down (a dot is a pen lowered and raised in place)."""
    interpreter = Interpreter(profile)
    segments = []
    for block in read_gcode(gcode):
        for event in interpreter.execute(block):
            if isinstance(event, Motion) and event.pen_down and event.start[:2] != event.end[:2]:
                segments.append((event.start[:2], event.end[:2]))
            elif isinstance(event, PenChange) and event.down:
                segments.append((interpreter.position[:2], interpreter.position[:2]))
    return shapely.MultiLineString(segments)


def original_strokes(document: vp.Document, profile: MachineProfile) -> shapely.MultiLineString:
    """The laid-out strokes before any optimisation, machine mm."""
    width, height = (v / PX_PER_MM for v in document.page_size)
    lines = []
    for layer in document.layers.values():
        for line in layer.lines:
            mm = np.asarray(line) / PX_PER_MM
            x, y = profile.page_to_machine(mm.real, mm.imag, height, width)
            lines.append(np.column_stack([x, y]) if len(line) > 1 else np.repeat(np.column_stack([x, y]), 2, 0))
    return shapely.MultiLineString(lines)


def directed_distance(source: shapely.Geometry, target: shapely.Geometry) -> float:
    """Largest distance from a point of ``source`` (densified) to ``target`` (exact segments)."""
    lines = shapely.get_parts(source)
    drawn = lines[shapely.length(lines) > 0]
    coordinates = np.vstack(
        [shapely.get_coordinates(lines), shapely.get_coordinates(shapely.segmentize(drawn, DENSIFY_MM))]
    )
    points = shapely.points(coordinates)
    parts = shapely.get_parts(target)
    _, distances = shapely.STRtree(parts).query_nearest(points, return_distance=True, all_matches=False)
    return float(distances.max())


def hausdorff(drawn: shapely.Geometry, original: shapely.Geometry) -> tuple[float, float]:
    """(drawn -> original, original -> drawn) distances in mm."""
    return directed_distance(drawn, original), directed_distance(original, drawn)


def split(estimate: PlotEstimate) -> str:
    return (
        f"{estimate.drawing_s / 60:6.1f}m{estimate.travel_s / 60:6.1f}m{estimate.pen_change_s / 60:6.1f}m"
        if hasattr(estimate, "drawing_s")
        else ""
    )


def compare(name: str, sketches, profile: MachineProfile, grid: tuple[int, int] | None, levers: bool) -> list[float]:
    """Print one page's table; returns ours / vpype."""
    settings = PageSettings(profile, profile.paper, profile.landscape, grid=grid)
    unoptimized = plot_page(
        sketches, paper=settings.paper, landscape=settings.landscape, grid=grid, optimize=NO_OPTIMIZATION
    ).unoptimized
    original = original_strokes(unoptimized, profile)
    reference = vpype_gcode(unoptimized, profile)
    rows = [("vpype linemerge linesort --two-opt + gwrite", reference)]
    rows.append(("ours (defaults)", build_page(sketches, settings).gcode))
    for lever, change in LEVERS.items() if levers else ():
        options = dataclasses.replace(settings.optimize, **change)
        rows.append((f"  ours, {lever}", build_page(sketches, dataclasses.replace(settings, optimize=options)).gcode))
    base = estimate_gcode(reference, profile).seconds
    print(f"\n{name} on {profile.name} ({profile.paper}, drawing_tolerance {profile.drawing_tolerance:g} mm)")
    print(f"{'':46}{'plot time':>10}{'ratio':>7}{'lifts':>6}  {'draw':>7}{'travel':>7}{'pen':>7}  {'hausdorff mm':>13}")
    ratios = []
    for label, gcode in rows:
        estimate = estimate_gcode(gcode, profile)
        there, back = hausdorff(drawn_segments(gcode, profile), original)
        ratio = estimate.seconds / base
        ratios.append(ratio)
        print(
            f"{label:46}{estimate.seconds / 60:9.2f}m{ratio:7.3f}{estimate.pen_lifts:6d}  {split(estimate)}"
            f"  {there:6.3f}/{back:5.3f}"
        )
    floor, tighter, tightest, allowance = plot_floor(unoptimized, profile)
    print(f"{'floor: ink at the feed, a lift per ink piece':46}{floor / 60:9.2f}m{floor / base:7.3f}")
    print(f"{'  + the least route through the pieces, ramps':46}{tighter / 60:9.2f}m{tighter / base:7.3f}")
    print(f"{'  + odd nodes: ink gone over again or lifts':46}{tightest / 60:9.2f}m{tightest / base:7.3f}")
    cut_floor = tightest - allowance
    print(f"{'  - rough allowance: cut ends, turns':46}{cut_floor / 60:9.2f}m{cut_floor / base:7.3f}")
    return ratios


def plot_floor(document: vp.Document, profile: MachineProfile) -> tuple[float, float, float, float]:
    """Three bounds no pen path can beat that draws every stroke's length, in seconds, and a
    rough allowance for a path that cuts ends and turns short within the tolerance instead
    (``cut_seconds``).
    A pen-down path stays within the drawing tolerance of the ink, so it can hop between
    strokes that come within twice the tolerance and no further: such strokes make one piece
    (``PenReach``). The first bound: the ink drawn once at the draw feed and a pen lift for
    each piece. The second adds what every piece costs besides: the pen must travel to it
    and its path must start from rest and stop, which costs a stroke of length L at least
    v / a over L / v, or 2 sqrt(L / a) - L / v when it is too short (L < v^2 / a) to reach
    the draw speed (a in the planner's fastest direction). The travel is at least the least
    total of the rapids from the job's start through every piece to the park position
    (``travel_floor``).
    The third adds what the pieces' odd nodes cost (``PenReach.odd_node_seconds``)."""
    lines = [line for layer in document.layers.values() for line in layer.lines]
    strokes = [line for line in lines if len(line) > 1 and np.any(line != line[0])]
    dots = [line[0] for line in lines if not (len(line) > 1 and np.any(line != line[0]))]
    merge_px = OptimizeOptions().tolerances(profile)[0] * PX_PER_MM
    tolerance = profile.drawing_tolerance * PX_PER_MM
    reach = PenReach.of(InkGraph.of(noded_pieces(extend_onto_ink(strokes, merge_px))), dots, tolerance)
    ink_mm = sum(float(np.abs(np.diff(line)).sum()) for line in strokes) / PX_PER_MM
    dynamics = Dynamics.of(profile)
    lifts_only = ink_mm / (profile.draw_feed / 60) + reach.count * dynamics.pen_change_s
    odd = reach.odd_node_seconds(dynamics)
    width, height = (v / PX_PER_MM for v in document.page_size)
    start, park = (
        complex(*profile.machine_to_page(*where, height, width)) * PX_PER_MM
        for where in (Interpreter(profile).position[:2], profile.park_position)
    )
    travel = travel_floor(reach, dynamics, start, park)
    speed, accel = dynamics.draw_speed, float(np.hypot(*dynamics.acceleration))
    ink = reach.ink_per_piece()
    ramps = float((rest_to_rest_seconds(ink, speed, accel) - ink / speed).sum())
    allowance = cut_seconds(strokes, tolerance, speed)
    return lifts_only, lifts_only + travel + ramps, lifts_only + travel + ramps + odd, allowance


def cut_seconds(strokes: list[np.ndarray], tolerance: float, speed: float) -> float:
    """A rough allowance, in drawing time, for a path that does not follow every stroke its
    full length: within the tolerance t each stroke end can be cut short by t, and a path on
    the inside of a turn is shorter by about t times the angle it turns (a circle of radius r
    drawn at r - t is 2 pi t shorter). Strokes running side by side within twice the tolerance,
    which one pass could draw, are not allowed for."""
    saved = 0.0
    for stroke in strokes:
        points = stroke[np.r_[True, np.diff(stroke) != 0]]
        steps = np.diff(points)
        turns = np.abs(np.angle(steps[1:] / steps[:-1])) if len(steps) > 1 else np.zeros(0)
        saved += min(float(np.abs(steps).sum()), tolerance * (2.0 + float(turns.sum())))
    return saved / speed


def rest_to_rest_seconds(distance: np.ndarray, rate: float, accel: float) -> np.ndarray:
    """A move of ``distance`` from rest to rest at most ``rate`` and ``accel``: a trapezoid, or
    a triangle when it is too short to reach the rate. A negative distance takes 0."""
    distance = np.maximum(distance, 0.0)
    return np.where(distance >= rate * rate / accel, distance / rate + rate / accel, 2 * np.sqrt(distance / accel))


def axis_seconds(distance: np.ndarray, dynamics: Dynamics) -> np.ndarray:
    """No single straight rapid from rest to rest whose larger axis moves ``distance`` (px)
    takes less: GRBL keeps each axis within its own rate and acceleration, and that axis
    alone, at the largest of any axis, needs this long."""
    return rest_to_rest_seconds(distance, max(dynamics.max_rate), max(dynamics.acceleration))


def travel_floor(reach: PenReach, dynamics: Dynamics, start: complex, park: complex) -> float:
    """A lower bound on the pen-up travel of a job that starts at ``start``, visits every
    piece and ends at ``park`` (px), in seconds. A rapid between two pieces takes at least
    ``axis_seconds`` of their Chebyshev gap, less three tolerances: a sample lies within half
    of one of any ink, and the pen lifts and lands within one of the ink (two come off the
    legs to the start and the park). Every pen-up rapid leaves from rest and stops, since a
    servo's pen change does; a planned Z move (``pen.method = "z"``) lets the machine pass the
    corner between the rapid and the Z move at a few mm/s, so on such a profile the floors
    are some tens of ms a piece too high. The pen's visits, one after another, run through every
    piece, so they cost at least the Held-Karp bound on the shortest such path
    (``path_floor``), and at least each piece but one entered from its nearest other."""
    gaps = reach.chebyshev_gaps()
    seconds = axis_seconds(gaps - 3 * reach.tolerance, dynamics)
    nearest = np.where(np.eye(len(seconds), dtype=bool), np.inf, seconds).min(axis=1)
    entered = float(nearest.sum() - nearest.max()) if len(seconds) > 1 else 0.0
    ends = np.array([start, park])
    to_ends = np.full((reach.count, 2), np.inf)
    for k, end in enumerate(ends):
        np.minimum.at(to_ends[:, k], reach.piece, np.abs(as_xy(reach.points - end)).max(axis=1))
    ends_apart = np.abs(as_xy(ends[:1] - ends[1:])).max()
    full = np.zeros((reach.count + 2,) * 2)
    full[: reach.count, : reach.count] = seconds
    full[: reach.count, reach.count :] = axis_seconds(to_ends - 2 * reach.tolerance, dynamics)
    full[reach.count :, : reach.count] = full[: reach.count, reach.count :].T
    full[reach.count, reach.count + 1] = full[reach.count + 1, reach.count] = axis_seconds(ends_apart, dynamics)
    off_diagonal = ~np.eye(len(full), dtype=bool)
    full[off_diagonal] = np.maximum(full[off_diagonal], 1e-12)  # the search reads a 0 as no edge
    return max(entered, path_floor(shortest_path(full, method="FW", directed=False)))


def path_floor(seconds: np.ndarray, iterations: int = 2000) -> float:
    """A lower bound on the cheapest path from the second-to-last node to the last through
    every other, on a symmetric cost matrix that obeys the triangle inequality (so a walk
    that comes back to a node is no cheaper than a path). The path plus an edge of cost -M
    from its end back to its start is a tour; Held and Karp's bound on any tour is the
    least 1-tree (a spanning tree on all nodes but the first, and that node's two cheapest
    edges) under costs c_ij + p_i + p_j, less twice the sum of p, for any node prices p:
    a tour is a 1-tree and meets every node twice. The prices follow the subgradient
    (degree - 2) with Polyak's steps toward a greedy tour's cost."""
    count = len(seconds)
    if count <= 2:
        return float(seconds[0, 1]) if count == 2 else 0.0
    forced = 10.0 * float(seconds.sum()) + 1.0  # the -M: more than any path costs, so the cheapest tour takes it
    costs = seconds.copy()
    costs[-2, -1] = costs[-1, -2] = -forced
    greedy, node, left = -forced, count - 2, set(range(count - 2))
    while left:  # nearest neighbour from the start, then on to the park
        step = min(left, key=lambda k: costs[node, k])
        greedy, node = greedy + costs[node, step], step
        left.remove(step)
    greedy += costs[node, -1]
    prices, best, scale, stalled = np.zeros(count), -np.inf, 2.0, 0
    for _ in range(iterations):
        priced = costs + prices[:, None] + prices[None, :]
        rest = priced[1:, 1:]
        shift = 1.0 - rest.min()  # the tree search ignores zeros: make every cost positive
        tree = minimum_spanning_tree(np.where(np.eye(count - 1, dtype=bool), 0.0, rest + shift)).tocoo()
        degree = np.bincount(np.concatenate([tree.row, tree.col]) + 1, minlength=count).astype(float)
        two = np.argsort(priced[0, 1:])[:2] + 1
        degree[0], degree[two] = 2.0, degree[two] + 1.0
        bound = float(tree.data.sum() - shift * (count - 2) + priced[0, two].sum() - 2.0 * prices.sum())
        if bound > best + 1e-9:
            best, stalled = bound, 0
        else:
            stalled += 1
            if stalled >= 20:
                scale, stalled = scale / 2.0, 0
        push = degree - 2.0
        if not push.any() or scale < 1e-4:
            break
        prices += scale * max(greedy - bound, 1e-9) / float(push @ push) * push
    return best + forced


@dataclass(frozen=True)
class PenReach:
    """Where a pen-down path can go: the ink graph's nodes, the ink sampled at most
    ``tolerance`` apart along each piece, and the dots, linked along the ink (its length)
    and, for free, wherever two of them on different pieces of the graph lie within twice the
    tolerance plus that spacing (a hop across that the path may make without leaving the
    tolerance; a node is on each piece that ends there). ``piece`` labels its connected parts."""

    graph: InkGraph
    points: np.ndarray  # the graph's nodes, then the samples, then the dots (px, complex)
    links: csr_matrix  # between those points
    piece: np.ndarray
    count: int
    dot_count: int
    tolerance: float

    @classmethod
    def of(cls, graph: InkGraph, dots: list[complex], tolerance: float) -> PenReach:
        points, owners, rows, cols, weights = [node_positions(graph)], [np.full(graph.node_count, -1)], [], [], []
        offset = graph.node_count
        for e, piece in enumerate(graph.pieces):
            dense = shapely.get_coordinates(shapely.segmentize(shapely.LineString(as_xy(piece)), tolerance))
            dense = dense[:, 0] + 1j * dense[:, 1]
            inner = dense[1:-1]
            chain = np.concatenate([[graph.heads[e]], offset + np.arange(len(inner)), [graph.tails[e]]])
            points.append(inner), owners.append(np.full(len(inner), e))
            rows.append(chain[:-1]), cols.append(chain[1:]), weights.append(np.maximum(np.abs(np.diff(dense)), 1e-9))
            offset += len(inner)
        points.append(np.asarray(dots, dtype=complex)), owners.append(-2 - np.arange(len(dots)))
        points, owners = np.concatenate(points), np.concatenate(owners)
        hops = cKDTree(as_xy(points)).query_pairs(3 * tolerance, output_type="ndarray").reshape(-1, 2)
        hops = hops[~on_one_piece(hops, owners, graph)]
        rows.append(hops[:, 0]), cols.append(hops[:, 1]), weights.append(np.full(len(hops), 1e-9))
        links = shortest_links(np.concatenate(rows), np.concatenate(cols), np.concatenate(weights), len(points))
        count, piece = connected_components(links, directed=False)
        return cls(graph, points, links, piece, count, len(dots), tolerance)

    def chebyshev_gaps(self) -> np.ndarray:
        """The least Chebyshev (max-axis) distance between every two pieces' points (px):
        exact over the points for pieces whose bounding boxes come within ``EXACT_GAP_MM``,
        else their boxes' gap, which is no larger."""
        xy = as_xy(self.points)
        low, high = np.full((self.count, 2), np.inf), np.full((self.count, 2), -np.inf)
        np.minimum.at(low, self.piece, xy)
        np.maximum.at(high, self.piece, xy)
        gaps = np.maximum(low[None] - high[:, None], low[:, None] - high[None]).max(axis=2).clip(min=0.0)
        members = np.split(np.argsort(self.piece, kind="stable"), np.cumsum(np.bincount(self.piece))[:-1])
        trees = [cKDTree(xy[member]) for member in members]
        for a, b in zip(*np.nonzero(np.triu(gaps < EXACT_GAP_MM * PX_PER_MM, 1))):
            gaps[a, b] = gaps[b, a] = trees[a].query(xy[members[b]], p=np.inf)[0].min()
        return gaps

    def ink_per_piece(self) -> np.ndarray:
        return np.bincount(self.piece[self.graph.heads], weights=self.graph.lengths, minlength=self.count)

    def odd_node_seconds(self, dynamics: Dynamics) -> float:
        """Seconds the pieces with more than two odd nodes cost beyond one pen-down path, at
        least. A pen-down path draws the ink between its ends; at an odd node that is not an
        end of a path, the pen goes back over ink (to another odd node, or to a path's end).
        So every odd node is a path's end (the first path's two ends are free, each further
        path costs a pen lift: its dwells, half a lift an end) or is joined over ink to
        another odd node (time >= that way, less twice the tolerance, at the draw speed) or
        to a path's end (>= half a lift). Per piece that is a perfect matching of its odd
        nodes, each to another or to a lift of its own, two of them free
        (``least_pairing``)."""
        degree = np.bincount(np.concatenate([self.graph.heads, self.graph.tails]), minlength=self.graph.node_count)
        odd = np.flatnonzero(degree % 2)
        if not len(odd):
            return 0.0
        lift, speed = dynamics.pen_change_s, dynamics.draw_speed
        way = np.empty((len(odd), len(odd)))
        for start in range(0, len(odd), DIJKSTRA_BATCH):  # a row per odd node over every point: batches
            chunk = odd[start : start + DIJKSTRA_BATCH]
            found = dijkstra(self.links, directed=False, indices=chunk, limit=lift * speed + 2 * self.tolerance)
            way[start : start + len(chunk)] = found[:, odd]
        joins = np.minimum(lift, np.maximum(way - 2 * self.tolerance, 0.0) / speed)
        total = 0.0
        for piece in np.unique(self.piece[odd]):
            members = np.flatnonzero(self.piece[odd] == piece)
            if len(members) > 2:
                total += least_pairing(joins[np.ix_(members, members)], lift)
        return total


def least_pairing(joins: np.ndarray, lift: float) -> float:
    """A lower bound on the cheapest way to pair m odd nodes, each with another (``joins``) or
    alone at half a ``lift``, two of them alone for free: the perfect matching on the nodes,
    m stand-ins (node k to its own at half a lift, stand-ins to each other free) and two free
    ends. A matching read both ways is an assignment of twice its cost, so half the least
    assignment (no node to itself) is no more than the least matching."""
    m = len(joins)
    size = 2 * m + 2
    costs = np.zeros((size, size))
    costs[:m, :m] = joins
    costs[:m, m : 2 * m] = costs[m : 2 * m, :m] = np.inf
    costs[np.arange(m), m + np.arange(m)] = costs[m + np.arange(m), np.arange(m)] = lift / 2
    np.fill_diagonal(costs, np.inf)
    rows, cols = linear_sum_assignment(costs)
    return float(costs[rows, cols].sum()) / 2.0


def on_one_piece(pairs: np.ndarray, owners: np.ndarray, graph: InkGraph) -> np.ndarray:
    """True for the pairs of points on one piece of the graph: two samples of it, or a sample
    and a node that piece ends at (owners: the piece of a sample, -1 for a node)."""
    a, b = owners[pairs[:, 0]], owners[pairs[:, 1]]
    same = (a == b) & (a >= 0)
    for node, sample in ((pairs[:, 0], b), (pairs[:, 1], a)):
        is_node = owners[node] == -1
        piece = np.where(is_node & (sample >= 0), sample, 0)
        ends_there = (graph.heads[piece] == node) | (graph.tails[piece] == node)
        same |= is_node & (sample >= 0) & ends_there
    return same


def shortest_links(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, size: int) -> csr_matrix:
    """The symmetric-free sparse graph of these links, keeping the shortest of any that join
    the same two points (a sparse matrix would add them up)."""
    low, high = np.minimum(rows, cols), np.maximum(rows, cols)
    order = np.lexsort((weights, high, low))
    low, high, weights = low[order], high[order], weights[order]
    first = np.ones(len(low), dtype=bool)
    first[1:] = (low[1:] != low[:-1]) | (high[1:] != high[:-1])
    return coo_matrix((weights[first], (low[first], high[first])), shape=(size, size)).tocsr()


def node_positions(graph: InkGraph) -> np.ndarray:
    """Where each node of the ink graph lies (px, complex)."""
    positions = np.zeros(graph.node_count, dtype=complex)
    positions[graph.heads] = [piece[0] for piece in graph.pieces]
    positions[graph.tails] = [piece[-1] for piece in graph.pieces]
    return positions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profiles", default=",".join(sorted(available_profiles())))
    parser.add_argument("--no-levers", dest="levers", action="store_false")
    parser.add_argument("--lift-settle", type=float, default=None, help="s of dwell after pen-up, servo profiles")
    args = parser.parse_args()
    cats = [from_origin(s) for s in read_npz(DATA, "test")[:100]]
    sampled = [from_origin(s) for s in sample_class("cat", 12, Sampling(temperature=0.5, seed=1)).strokes]
    verdicts = []
    for name in args.profiles.split(","):
        profile = load_profile(name)
        if args.lift_settle is not None and profile.pen.method == "servo":
            profile = dataclasses.replace(profile, pen=dataclasses.replace(profile.pen, lift_settle_s=args.lift_settle))
        for page, sketches, grid in (("100 test cats", cats, (10, 10)), ("12 sampled cats", sampled, None)):
            ours = compare(page, sketches, profile, grid, args.levers)[1]
            verdicts.append(f"{profile.name} {page}: {ours:.3f} {'met' if ours <= 0.8 else 'MISSED'}")
    profile = load_profile("a3-servo")
    settings = PageSettings(profile, "a3", True, grid=(10, 10))

    def pipeline() -> str:
        result = plot_page(cats, paper="a3", landscape=True, grid=(10, 10), optimize=settings.optimize, profile=profile)
        return write_gcode(result.document, profile)

    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        pipeline()
        best = min(best, time.perf_counter() - start)
    print(f"\ntarget ours / vpype <= 0.8: {'; '.join(verdicts)}")
    print(
        f"layout + optimisation + G-code, 100 cats on a3-servo: {best:.3f} s (target < 1 s): {'met' if best < 1 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
