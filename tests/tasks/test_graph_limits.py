"""Transitive reads stop at their cap, in SQL, and say so."""

from itertools import pairwise

import pytest

from tasks import selectors
from tasks.models import Task, TaskDependency
from tests.graphql import global_id

pytestmark = pytest.mark.django_db

READ = """
query R($id: ID!, $first: Int, $maxDepth: Int) {
  task(id: $id) {
    ancestors(first: $first, maxDepth: $maxDepth) { items { depth task { title } } truncated }
  }
}
"""


def chain(user, length: int) -> list[Task]:
    tasks = Task.objects.bulk_create(
        [Task(owner=user, title=f"T{n}") for n in range(length)], batch_size=1000
    )
    TaskDependency.objects.bulk_create(
        [TaskDependency(task=b, pre_task=a) for a, b in pairwise(tasks)],
        batch_size=1000,
    )
    return tasks


def ancestors(gql, task, **variables):
    return gql.data(READ, {"id": global_id("Task", task.pk), **variables})["task"]["ancestors"]


def test_first_cuts_the_read_and_says_so(user, gql):
    tail = chain(user, 10)[-1]
    read = ancestors(gql, tail, first=3)
    assert read == {
        "items": [
            {"depth": 1, "task": {"title": "T8"}},
            {"depth": 2, "task": {"title": "T7"}},
            {"depth": 3, "task": {"title": "T6"}},
        ],
        "truncated": True,
    }
    assert ancestors(gql, tail, first=9)["truncated"] is False


def test_max_depth_within_the_cap_is_not_a_cut(user, gql):
    tail = chain(user, 10)[-1]
    assert ancestors(gql, tail, first=3, maxDepth=3)["truncated"] is False
    assert ancestors(gql, tail, first=3, maxDepth=4)["truncated"] is True


def test_first_is_checked_like_a_connections(user, gql):
    tail = chain(user, 2)[-1]
    for first, message in [
        (-1, "Argument 'first' must be a non-negative integer."),
        (201, "Argument 'first' cannot be higher than 200."),
    ]:
        body = gql(READ, {"id": global_id("Task", tail.pk), "first": first})
        assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
            (message, "BAD_USER_INPUT")
        ]


def test_the_cap_is_a_setting(user, gql, settings):
    settings.GRAPHQL_MAX_TRANSITIVE = 2
    tail = chain(user, 5)[-1]
    assert [i["depth"] for i in ancestors(gql, tail)["items"]] == [1, 2]


def test_a_walk_over_ten_thousand_ancestors_reads_only_what_it_returns(user):
    # The recursive query stops once it has the cap (plus one, to know it cut): its rows are
    # the edges among the 202 nearest tasks, not the 9,999 edges of the chain.
    from tasks import graph_queries

    tail = chain(user, 10_000)[-1]
    edges = graph_queries.walk_edges(task_id=tail.pk, direction="ancestors", limit=202)
    assert len(edges) == 201
    reach = selectors.task_ancestors(task=tail)
    assert len(reach.items) == 200
    assert reach.truncated is True


def test_a_diamond_rich_graph_is_walked_by_tasks_not_by_paths(user):
    # 30 layers of 2 tasks, each task depending on both of the layer below: 2**30 paths.
    layers = [
        Task.objects.bulk_create(
            [Task(owner=user, title=f"L{n}a"), Task(owner=user, title=f"L{n}b")]
        )
        for n in range(30)
    ]
    TaskDependency.objects.bulk_create(
        [
            TaskDependency(task=upper, pre_task=lower)
            for below, above in pairwise(layers)
            for upper in above
            for lower in below
        ]
    )
    reach = selectors.task_ancestors(task=layers[-1][0])
    assert len(reach.items) == 58
    assert reach.truncated is False
    assert reach.items[-1].depth == 29
