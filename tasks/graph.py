"""Graph algorithms over task ids, with no database: the SQL walks the graph, these finish the job.

An edge ``(before, after)`` means ``before`` must be done before ``after`` (a pre-task and its
dependent).
"""

import heapq
from collections import defaultdict, deque
from collections.abc import Collection, Hashable, Iterable, Mapping


class CycleFound(Exception):
    """The edges given to topological_order contain a cycle."""


def _adjacency(edges: Iterable[tuple[int, int]]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for before, after in edges:
        out[before].append(after)
    return out


def shortest_path(
    edges: Iterable[tuple[int, int]], *, start: int, goals: Collection[int]
) -> list[int] | None:
    """The fewest-edges path ``start, ..., goal`` to the nearest goal, or None if none is reachable.

    Ties between equally short paths go to the smaller ids, so the answer is deterministic.
    """
    adjacency = _adjacency(edges)
    parent: dict[int, int | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node in goals and node != start:
            path = [node]
            while parent[path[-1]] is not None:
                path.append(parent[path[-1]])
            return path[::-1]
        for nxt in sorted(adjacency.get(node, ())):
            if nxt not in parent:
                parent[nxt] = node
                queue.append(nxt)
    return None


def depths(edges: Iterable[tuple[int, int]], *, start: int) -> dict[int, int]:
    """Every node reachable from ``start`` along the edges, with its distance (in edges).

    ``start`` itself is left out.
    """
    adjacency = _adjacency(edges)
    distance = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in adjacency.get(node, ()):
            if nxt not in distance:
                distance[nxt] = distance[node] + 1
                queue.append(nxt)
    del distance[start]
    return distance


def topological_order(nodes: Mapping[int, Hashable], edges: Iterable[tuple[int, int]]) -> list[int]:
    """Every node once, each after all its pre-tasks; among nodes free at the same moment the
    one with the smallest sort key (``nodes[id]``) comes first, so the order is deterministic.

    Edges touching ids outside ``nodes`` are ignored. Raises CycleFound on a cycle.
    """
    adjacency: dict[int, list[int]] = defaultdict(list)
    waiting_on = dict.fromkeys(nodes, 0)
    for before, after in edges:
        if before in waiting_on and after in waiting_on:
            adjacency[before].append(after)
            waiting_on[after] += 1
    free = [(nodes[n], n) for n, count in waiting_on.items() if count == 0]
    heapq.heapify(free)
    order = []
    while free:
        _, node = heapq.heappop(free)
        order.append(node)
        for nxt in adjacency.get(node, ()):
            waiting_on[nxt] -= 1
            if waiting_on[nxt] == 0:
                heapq.heappush(free, (nodes[nxt], nxt))
    if len(order) != len(waiting_on):
        raise CycleFound(f"{len(waiting_on) - len(order)} tasks lie on or behind a cycle")
    return order
