"""Transitive reads stop at their cap, in SQL, and say so."""

from itertools import pairwise

import pytest

from tasks import selectors
from tasks.models import Task, TaskDependency
from tests.factories import TaskFactory
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


DEPENDENTS = """
query D($first: Int) {
  tasks(first: 3) { edges { node { title dependents(first: $first) { title } } } }
}
"""


def test_dependents_take_a_bounded_first_per_task_in_one_query(
    user, gql, django_assert_num_queries
):
    # 3 tasks listed, each the pre-task of the same 5 others.
    listed = Task.objects.bulk_create([Task(owner=user, title=f"P{n}") for n in range(3)])
    waiting = Task.objects.bulk_create([Task(owner=user, title=f"W{n}") for n in range(5)])
    TaskDependency.objects.bulk_create(
        [TaskDependency(task=w, pre_task=p) for p in listed for w in waiting]
    )
    # session, user, the page, one sliced prefetch for every task of the page
    with django_assert_num_queries(4):
        data = gql.data(DEPENDENTS, {"first": 4})
    for edge in data["tasks"]["edges"]:
        assert edge["node"]["dependents"] == [{"title": f"W{n}"} for n in range(4)]


def test_aliases_asking_for_different_sizes_each_get_theirs(user, gql):
    # Not planned by the optimizer (a query per task and alias: priced accordingly).
    listed = TaskFactory(owner=user, title="P")
    waiting = Task.objects.bulk_create([Task(owner=user, title=f"W{n}") for n in range(5)])
    TaskDependency.objects.bulk_create([TaskDependency(task=w, pre_task=listed) for w in waiting])
    query = "query($id: ID!) { task(id: $id) { a: dependents(first: 1) { title } b: dependents(first: 2) { title } } }"
    task = gql.data(query, {"id": global_id("Task", listed.pk)})["task"]
    assert task == {"a": [{"title": "W0"}], "b": [{"title": "W0"}, {"title": "W1"}]}


def test_dependents_first_is_checked_like_a_connections(user, gql):
    TaskFactory(owner=user)
    body = gql(DEPENDENTS, {"first": 101})
    assert {e["message"] for e in body["errors"]} == {"Argument 'first' cannot be higher than 100."}


def test_task_order_takes_a_first_that_keeps_the_beginning(user, gql):
    chain(user, 5)
    data = gql.data("{ taskOrder(first: 2) { title } }")
    assert data == {"taskOrder": [{"title": "T0"}, {"title": "T1"}]}
    body = gql("{ taskOrder(first: 10001) { title } }")
    assert body["errors"][0]["message"] == "Argument 'first' cannot be higher than 10000."
