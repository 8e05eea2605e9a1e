"""Pen-down paths over the ink graph: strokes noded where they touch or cross, so the pen
reaches the next stroke over ink it has drawn instead of lifting.

A stroke end within the join tolerance of other ink is first extended onto it (onto the nearest
stroke end that close, else onto the nearest point of a line), so strokes that nearly touch
meet; an extension of length d lies within d/2 of a stroke end or of the ink it reaches, the
bridge rule of linemerge. The pieces of ink between crossings and ends are the edges. A
pen-down path that draws every edge once is an Euler trail, and a connected piece of ink with
2k odd nodes needs k of them, a pen lift between each. Going back over the ink between two odd
nodes makes both even and saves a lift for its length at the draw speed: worth it while that
is shorter than ``reach_px``. Odd nodes are paired nearest along the ink first (a greedy
Chinese postman), then Hierholzer's algorithm walks the trails, at every node taking the way
on that turns least, so the planner keeps its speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

# An end extended onto a line crosses it by this much (px), so noding splits the line there;
# the stub beyond is dropped again.
OVERSHOOT_PX = 1e-3
NODE_DECIMALS = 6  # piece ends equal to this many decimals of a px are one node
DIJKSTRA_BATCH = 256  # odd nodes searched from at once: bounds the distance matrix's memory


def ink_paths(lines: Sequence[np.ndarray], join_px: float, reach_px: float) -> list[np.ndarray]:
    """The fewest pen-down paths that draw ``lines`` (complex polylines, px), going back over
    at most ``reach_px`` of drawn ink for each pen lift saved; dots are kept as they are."""
    is_dot = [len(line) < 2 or not np.any(line[1:] != line[0]) for line in lines]
    dots = [line for line, dot in zip(lines, is_dot) if dot]
    strokes = [np.asarray(line, dtype=complex) for line, dot in zip(lines, is_dot) if not dot]
    if not strokes:
        return list(lines)
    pieces = noded_pieces(extend_onto_ink(strokes, join_px))
    if not pieces:  # only strokes shorter than the noding's overshoot: nothing to chain
        return list(lines)
    return InkGraph.of(pieces).trails(reach_px) + dots


def extend_onto_ink(strokes: list[np.ndarray], join_px: float) -> list[np.ndarray]:
    """``strokes`` with every end that lies within ``join_px`` of other ink (another stroke, or
    its own stroke further than ``2 * join_px`` along it) extended to touch that ink: exactly
    onto the nearest such stroke end, else just across the nearest line."""
    reach = join_px - OVERSHOOT_PX
    if reach <= 0:
        return strokes
    counts = np.array([len(stroke) - 1 for stroke in strokes])
    starts = np.concatenate([stroke[:-1] for stroke in strokes])
    stops = np.concatenate([stroke[1:] for stroke in strokes])
    owner = np.repeat(np.arange(len(strokes)), counts)
    lengths = np.abs(stops - starts)
    totals = np.bincount(owner, lengths, minlength=len(strokes))
    before = np.cumsum(lengths) - lengths  # ink before each segment, over all strokes
    along = before - before[np.repeat(np.cumsum(counts) - counts, counts)]  # ... within its stroke
    ends = np.array([point for stroke in strokes for point in (stroke[0], stroke[-1])])
    end_owner = np.repeat(np.arange(len(strokes)), 2)
    end_is_last = np.tile([False, True], len(strokes))

    def far_along(end: np.ndarray, other: np.ndarray, position: np.ndarray) -> np.ndarray:
        """True where ``position`` (along the stroke) is more than 2 * join_px from the end."""
        own = end_owner[end] == other
        from_end = np.where(end_is_last[end], totals[other] - position, position)
        return ~own | (from_end > 2 * join_px)

    targets: dict[int, tuple[complex, bool]] = {}  # end -> (point, whether it crosses a line)
    reached: set[int] = set()  # ends another end is extended onto: no longer loose
    end_tree = cKDTree(as_xy(ends))
    pairs = end_tree.query_pairs(reach, output_type="ndarray")
    if len(pairs):
        pairs = np.vstack([pairs, pairs[:, ::-1]])
        end, other = pairs[:, 0], pairs[:, 1]
        keep = far_along(end, end_owner[other], np.where(end_is_last[other], totals[end_owner[other]], 0.0))
        distance = np.abs(ends[other] - ends[end])
        for k in np.argsort(distance, kind="stable"):
            if keep[k] and end[k] not in targets and end[k] not in reached:
                targets[int(end[k])] = (ends[other[k]], False)
                reached.add(int(other[k]))
    segments = shapely.linestrings(np.stack([as_xy(starts), as_xy(stops)], axis=1))
    end_index, segment = shapely.STRtree(segments).query(
        shapely.points(as_xy(ends)), predicate="dwithin", distance=reach
    )
    if len(end_index):
        a, b, p = starts[segment], stops[segment], ends[end_index]
        delta = b - a
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.clip(np.nan_to_num(((p - a) * np.conj(delta)).real / np.abs(delta) ** 2), 0.0, 1.0)
        foot = a + t * delta
        distance = np.abs(foot - p)
        keep = far_along(end_index, owner[segment], along[segment] + t * lengths[segment]) & (distance <= reach)
        for k in np.argsort(distance, kind="stable"):
            if keep[k] and int(end_index[k]) not in targets and int(end_index[k]) not in reached:
                targets[int(end_index[k])] = (foot[k], True)
    extended = list(strokes)
    for end, (point, crosses) in targets.items():
        stroke = extended[end // 2]
        tip, inner = (stroke[-1], stroke[-2]) if end % 2 else (stroke[0], stroke[1])
        if crosses:
            gap = point - tip
            direction = gap / abs(gap) if abs(gap) > 0 else (tip - inner) / max(abs(tip - inner), 1e-300)
            point = point + direction * OVERSHOOT_PX
        extended[end // 2] = np.append(stroke, point) if end % 2 else np.insert(stroke, 0, point)
    return extended


def noded_pieces(strokes: list[np.ndarray]) -> list[np.ndarray]:
    """The ink as pieces that meet only at their ends (shapely's union nodes every crossing and
    draws overlapping ink once), less the stubs an extension leaves beyond the line it crossed."""
    union = shapely.union_all([shapely.LineString(as_xy(stroke)) for stroke in strokes])
    parts = shapely.get_parts(union)
    coordinates, index = shapely.get_coordinates(parts, return_index=True)
    points = coordinates[:, 0] + 1j * coordinates[:, 1]
    pieces = np.split(points, np.flatnonzero(np.diff(index)) + 1)
    keys = node_keys(np.array([point for piece in pieces for point in (piece[0], piece[-1])]))
    _, inverse, degree = np.unique(keys, return_inverse=True, return_counts=True)
    dangling = degree[inverse].reshape(-1, 2).min(axis=1) == 1
    short = np.array([np.abs(np.diff(piece)).sum() <= 2 * OVERSHOOT_PX for piece in pieces])
    return [piece for piece, stub in zip(pieces, dangling & short) if not stub]


def as_xy(points: np.ndarray) -> np.ndarray:
    return np.column_stack([points.real, points.imag])


def node_keys(points: np.ndarray) -> np.ndarray:
    """Points rounded to NODE_DECIMALS: equal keys are one node."""
    return np.round(points.real, NODE_DECIMALS) + 1j * np.round(points.imag, NODE_DECIMALS)


@dataclass(frozen=True)
class InkGraph:
    """Pieces of ink between nodes: piece ``e`` runs from node ``heads[e]`` to ``tails[e]``."""

    pieces: list[np.ndarray]
    heads: np.ndarray
    tails: np.ndarray
    node_count: int

    @classmethod
    def of(cls, pieces: list[np.ndarray]) -> InkGraph:
        ends = node_keys(np.array([point for piece in pieces for point in (piece[0], piece[-1])]))
        _, inverse = np.unique(ends, return_inverse=True)
        nodes = inverse.reshape(-1, 2)
        return cls(pieces, nodes[:, 0], nodes[:, 1], int(inverse.max()) + 1)

    def trails(self, reach_px: float) -> list[np.ndarray]:
        """Pen-down paths drawing every piece once, plus the retraces worth a lift each."""
        size = (self.node_count, self.node_count)
        adjacency = coo_matrix((np.ones(len(self.heads)), (self.heads, self.tails)), shape=size)
        _, component = connected_components(adjacency, directed=False)
        degree = np.bincount(np.concatenate([self.heads, self.tails]), minlength=self.node_count)
        odd = np.flatnonzero(degree % 2)
        retraces = self._retraces(odd, component, reach_px)
        edges = [(int(h), int(t), e) for e, (h, t) in enumerate(zip(self.heads, self.tails))]
        edges += [(int(self.heads[e]), int(self.tails[e]), e) for path in retraces for e in path]
        return [self._polyline(trail) for trail in euler_trails(edges, self.node_count, self._heading)]

    def _retraces(self, odd: np.ndarray, component: np.ndarray, reach_px: float) -> list[list[int]]:
        """The pieces between pairs of odd nodes to go back over: shortest first, each shorter than
        ``reach_px``, while its component has more than two odd nodes left unpaired."""
        left = np.bincount(component[odd], minlength=component.max() + 1)
        sources = odd[left[component[odd]] > 2]
        if not len(sources) or reach_px <= 0:
            return []
        lengths = self.lengths
        shortest: dict[tuple[int, int], int] = {}  # node pair -> the shortest piece between them
        for e in np.argsort(-lengths, kind="stable"):
            h, t = int(self.heads[e]), int(self.tails[e])
            if h != t:
                shortest[(h, t)] = shortest[(t, h)] = int(e)
        pairs = np.array(list(shortest), dtype=int).reshape(-1, 2)
        weights = np.maximum(lengths[list(shortest.values())], 1e-12)
        graph = coo_matrix((weights, (pairs[:, 0], pairs[:, 1])), shape=(self.node_count,) * 2).tocsr()
        is_source = np.zeros(self.node_count, dtype=bool)
        is_source[sources] = True
        candidates, previous = [], {}
        for batch in range(0, len(sources), DIJKSTRA_BATCH):
            chunk = sources[batch : batch + DIJKSTRA_BATCH]
            distances, predecessors = dijkstra(graph, indices=chunk, limit=reach_px, return_predecessors=True)
            for row, source in enumerate(chunk):
                within = np.flatnonzero(np.isfinite(distances[row]))
                reached = within[is_source[within] & (within > source)]
                if len(reached):  # the nodes within reach only: memory grows with them, not the graph
                    previous[int(source)] = dict(zip(within.tolist(), predecessors[row, within].tolist()))
                    candidates.extend((float(distances[row, r]), int(source), int(r)) for r in reached)
        matched = np.zeros(self.node_count, dtype=bool)
        retraces = []
        for _, a, b in sorted(candidates):
            if matched[a] or matched[b] or left[component[a]] <= 2:
                continue
            matched[a] = matched[b] = True
            left[component[a]] -= 2
            path, node = [], b
            while node != a:
                before = previous[a][node]
                path.append(shortest[(before, node)])
                node = before
            retraces.append(path)
        return retraces

    def _heading(self, piece: int, forward: bool, leaving: bool) -> complex:
        """Unit direction of a piece drawn ``forward`` (head to tail) or back, where it leaves
        its first node (``leaving``) or where it reaches its last."""
        out_of_head, into_tail = self._end_directions[piece]
        if forward:
            return out_of_head if leaving else into_tail
        return -into_tail if leaving else -out_of_head

    @cached_property
    def lengths(self) -> np.ndarray:
        """Each piece's length along its ink (px)."""
        return np.array([float(np.abs(np.diff(piece)).sum()) for piece in self.pieces])

    @cached_property
    def _end_directions(self) -> list[tuple[complex, complex]]:
        """Per piece: the unit direction of its first and of its last step that moves."""
        directions = []
        for piece in self.pieces:
            steps = np.diff(piece)
            moving = steps[steps != 0]
            first, last = (moving[0], moving[-1]) if len(moving) else (1.0, 1.0)
            directions.append((first / abs(first), last / abs(last)))
        return directions

    def _polyline(self, trail: list[tuple[int, bool]]) -> np.ndarray:
        parts = [self.pieces[e] if forward else self.pieces[e][::-1] for e, forward in trail]
        return np.concatenate([parts[0]] + [part[1:] for part in parts[1:]])


def euler_trails(edges: list[tuple[int, int, int]], node_count: int, heading) -> list[list[tuple[int, bool]]]:
    """Trails of (piece, drawn forward) that take every edge (node, node, piece) once, as few
    as a component's odd nodes allow (half their number, at least one): walks from odd nodes,
    each ending at another, then the closed circuits left spliced into a trail where it passes
    their node (Hierholzer), or on their own. Every walk takes the unused edge that turns least
    from where it came (``heading(piece, forward, leaving)``), so trails run straight on."""
    incident: list[list[int]] = [[] for _ in range(node_count)]
    for k, (u, v, _) in enumerate(edges):
        incident[u].append(k)
        if v != u:
            incident[v].append(k)
    used = np.zeros(len(edges), dtype=bool)

    def unused(node: int) -> list[int]:
        incident[node] = [k for k in incident[node] if not used[k]]
        return incident[node]

    def walk(node: int, came: complex | None) -> tuple[list[tuple[int, bool]], list[int]]:
        steps, nodes = [], [node]
        while candidates := unused(node):
            choice = _least_turn(candidates, node, came, edges, heading)
            used[choice] = True
            u, v, piece = edges[choice]
            forward = u == node
            node = v if forward else u
            steps.append((piece, forward))
            nodes.append(node)
            came = heading(piece, forward, False)
        return steps, nodes

    def splice_circuits(steps: list[tuple[int, bool]], nodes: list[int]) -> list[tuple[int, bool]]:
        position = 0
        while position < len(nodes):
            if unused(nodes[position]):
                came = heading(*steps[position - 1], False) if position else None
                loop, loop_nodes = walk(nodes[position], came)
                steps[position:position] = loop
                nodes[position + 1 : position + 1] = loop_nodes[1:]
            position += 1
        return steps

    def odd_left(node: int) -> bool:
        return sum(2 if edges[k][0] == edges[k][1] else 1 for k in unused(node)) % 2 == 1

    walks = [walk(node, None) for node in range(node_count) if odd_left(node)]
    trails = [splice_circuits(*found) for found in walks]
    for first in range(len(edges)):
        if not used[first]:
            trails.append(splice_circuits(*walk(edges[first][0], None)))
    return trails


def _least_turn(candidates: list[int], node: int, came: complex | None, edges, heading) -> int:
    """The candidate edge whose way out of ``node`` is closest to the direction ``came``."""
    if came is None:
        return candidates[0]
    return max(candidates, key=lambda k: (heading(edges[k][2], edges[k][0] == node, True) * np.conj(came)).real)
