"""The pure graph algorithms (no database)."""

from datetime import UTC, datetime

import pytest

from tasks.graph import CycleFound, depths, shortest_path, topological_order


def test_shortest_path_takes_the_fewest_edges():
    edges = [(1, 2), (2, 3), (3, 4), (1, 4)]
    assert shortest_path(edges, start=1, goals={4}) == [1, 4]


def test_shortest_path_stops_at_the_nearest_goal():
    edges = [(1, 2), (2, 3), (1, 5), (5, 6), (6, 3)]
    assert shortest_path(edges, start=1, goals={3, 6}) == [1, 2, 3]


def test_shortest_path_breaks_ties_by_the_smaller_id():
    edges = [(1, 9), (1, 2), (9, 5), (2, 5)]
    assert shortest_path(edges, start=1, goals={5}) == [1, 2, 5]


def test_shortest_path_is_none_when_no_goal_is_reachable():
    assert shortest_path([(1, 2), (3, 4)], start=1, goals={4}) is None


def test_depths_are_shortest_distances_and_leave_out_the_start():
    edges = [(1, 2), (2, 3), (1, 3), (3, 4)]
    assert depths(edges, start=1) == {2: 1, 3: 1, 4: 2}


def test_depths_of_a_long_chain_do_not_recurse():
    edges = [(i, i + 1) for i in range(20_000)]
    assert depths(edges, start=0)[20_000] == 20_000


def test_topological_order_puts_every_task_after_its_pre_tasks():
    nodes = {pk: pk for pk in range(1, 6)}
    edges = [(5, 1), (4, 1), (1, 2), (3, 2)]
    assert topological_order(nodes, edges) == [3, 4, 5, 1, 2]


def test_topological_order_breaks_ties_by_the_sort_key():
    early, late = datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 6, 1, tzinfo=UTC)
    nodes = {1: (1, 0, 1), 2: (0, late, 2), 3: (0, early, 3), 4: (0, early, 4)}
    assert topological_order(nodes, [(4, 3)]) == [4, 3, 2, 1]


def test_topological_order_ignores_edges_leaving_the_node_set():
    assert topological_order({1: 1, 2: 2}, [(2, 1), (7, 2), (1, 8)]) == [2, 1]


def test_topological_order_refuses_a_cycle():
    with pytest.raises(CycleFound, match="3 tasks lie on or behind a cycle"):
        topological_order({1: 1, 2: 2, 3: 3, 4: 4}, [(1, 2), (2, 3), (3, 2), (2, 4)])
