from datetime import UTC, datetime, timedelta

import pytest

from tasks.models import TaskDependency
from tests.factories import DoneTaskFactory, TaskFactory
from tests.graphql import global_id

pytestmark = pytest.mark.django_db

LIST = """
query List($filter: TaskFilter, $order: [TaskOrder!], $first: Int, $after: String) {
  tasks(filter: $filter, order: $order, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { title } }
  }
}
"""
T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


def titles(data):
    return [edge["node"]["title"] for edge in data["tasks"]["edges"]]


@pytest.fixture
def calendar(user):
    """Four tasks of the user's, created in this order, plus one of someone else's."""
    TaskFactory(owner=user, title="Water plants", scheduled_at=T0 + timedelta(days=2))
    TaskFactory(owner=user, title="buy milk", scheduled_at=T0)
    DoneTaskFactory(owner=user, title="File taxes", scheduled_at=T0 + timedelta(days=1))
    TaskFactory(owner=user, title="Call mum", scheduled_at=None)
    TaskFactory(title="Someone else's milk")


def test_tasks_lists_only_the_callers_tasks_in_creation_order(calendar, gql):
    data = gql.data(LIST)
    assert titles(data) == ["Water plants", "buy milk", "File taxes", "Call mum"]
    assert data["tasks"]["totalCount"] == 4


@pytest.mark.parametrize(
    "filter,expected",
    [
        ({"status": "DONE"}, ["File taxes"]),
        ({"status": "OPEN"}, ["Water plants", "buy milk", "Call mum"]),
        ({"titleContains": "MILK"}, ["buy milk"]),
        ({"scheduledAfter": "2030-01-02T09:00:00Z"}, ["Water plants", "File taxes"]),
        ({"scheduledBefore": "2030-01-02T09:00:00Z"}, ["buy milk", "File taxes"]),
        (
            {
                "scheduledAfter": "2030-01-01T10:00:00+01:00",
                "scheduledBefore": "2030-01-02T12:00:00Z",
            },
            ["buy milk", "File taxes"],
        ),
        (
            {"status": "OPEN", "scheduledAfter": "2030-01-01T09:00:00Z"},
            ["Water plants", "buy milk"],
        ),
    ],
)
def test_tasks_filters_combine(calendar, gql, filter, expected):
    data = gql.data(LIST, {"filter": filter})
    assert titles(data) == expected
    assert data["tasks"]["totalCount"] == len(expected)


@pytest.mark.parametrize(
    "order,expected",
    [
        ([{"field": "SCHEDULED_AT"}], ["buy milk", "File taxes", "Water plants", "Call mum"]),
        (
            [{"field": "SCHEDULED_AT", "direction": "DESC"}],
            ["Water plants", "File taxes", "buy milk", "Call mum"],
        ),
        ([{"field": "TITLE"}], ["Call mum", "File taxes", "Water plants", "buy milk"]),
        (
            [{"field": "CREATED_AT", "direction": "DESC"}],
            ["Call mum", "File taxes", "buy milk", "Water plants"],
        ),
    ],
)
def test_tasks_orders_with_unscheduled_last(calendar, gql, order, expected):
    assert titles(gql.data(LIST, {"order": order})) == expected


def test_tasks_ties_are_broken_by_id(user, gql):
    for name in ("b", "a", "c"):
        TaskFactory(owner=user, title="same", description=name, scheduled_at=T0)
    data = gql.data("{ tasks(order: [{field: SCHEDULED_AT}]) { edges { node { description } } } }")
    assert [e["node"]["description"] for e in data["tasks"]["edges"]] == ["b", "a", "c"]


def test_tasks_pages_with_cursors(user, gql):
    for n in range(5):
        TaskFactory(owner=user, title=f"t{n}")
    page = gql.data(LIST, {"first": 2})
    assert titles(page) == ["t0", "t1"]
    assert page["tasks"]["pageInfo"]["hasNextPage"] is True
    page = gql.data(LIST, {"first": 2, "after": page["tasks"]["pageInfo"]["endCursor"]})
    assert titles(page) == ["t2", "t3"]
    page = gql.data(LIST, {"first": 2, "after": page["tasks"]["pageInfo"]["endCursor"]})
    assert titles(page) == ["t4"]
    assert page["tasks"]["pageInfo"]["hasNextPage"] is False
    assert page["tasks"]["totalCount"] == 5


def test_tasks_page_size_is_capped_at_100(user, gql):
    body = gql(LIST, {"first": 101})
    assert body["data"] is None
    assert body["errors"][0]["message"] == "Argument 'first' cannot be higher than 100."


def test_tasks_without_first_returns_at_most_100(user, gql):
    TaskFactory.create_batch(101, owner=user)
    data = gql.data(LIST)
    assert len(data["tasks"]["edges"]) == 100
    assert data["tasks"]["pageInfo"]["hasNextPage"] is True
    assert data["tasks"]["totalCount"] == 101


def test_bad_filter_values_are_graphql_errors(gql):
    body = gql(LIST, {"filter": {"status": "MAYBE"}})
    assert body["data"] is None
    assert "MAYBE" in body["errors"][0]["message"]
    body = gql(LIST, {"filter": {"scheduledAfter": "yesterday"}})
    assert body["data"] is None
    assert "yesterday" in body["errors"][0]["message"]


NESTED = """
query List($first: Int) {
  tasks(first: $first) {
    totalCount
    edges { node { id title status preTasks { id title } dependents { id title } } }
  }
}
"""


def _graph(user, size):
    tasks = TaskFactory.create_batch(size, owner=user)
    TaskDependency.objects.bulk_create(
        TaskDependency(task=tasks[i], pre_task=tasks[i - 1]) for i in range(1, size)
    )
    TaskDependency.objects.bulk_create(
        TaskDependency(task=tasks[i], pre_task=tasks[i - 2]) for i in range(2, size, 3)
    )


@pytest.mark.parametrize("first", [5, 100])
def test_task_list_query_count_does_not_grow_with_page_size(
    user, gql, django_assert_num_queries, first
):
    _graph(user, 120)
    # session, user, page (totalCount rides along as a window function), two prefetches
    with django_assert_num_queries(5):
        data = gql.data(NESTED, {"first": first})
    edges = data["tasks"]["edges"]
    assert len(edges) == first
    assert edges[1]["node"]["preTasks"] == [
        {"id": edges[0]["node"]["id"], "title": edges[0]["node"]["title"]}
    ]


def test_single_task_query_count_is_fixed(user, gql, django_assert_num_queries):
    _graph(user, 30)
    task_id = global_id("Task", user.tasks.order_by("id")[10].pk)
    # session, user, the task, one prefetch per nested list (preTasks, their preTasks, dependents)
    with django_assert_num_queries(6):
        data = gql.data(
            "query G($id: ID!) { task(id: $id) { preTasks { preTasks { title } } dependents { title } } }",
            {"id": task_id},
        )
    assert len(data["task"]["preTasks"]) >= 1


def test_title_contains_takes_up_to_the_longest_title(user, gql):
    longest = "x" * 199 + "y"
    TaskFactory(owner=user, title=longest)
    assert titles(gql.data(LIST, {"filter": {"titleContains": longest.upper()}})) == [longest]


@pytest.mark.parametrize("length", [201, 100_000])
def test_title_contains_longer_than_any_title_is_refused(user, gql, length):
    # 100,000 characters was an internal error on SQLite ("LIKE or GLOB pattern too complex").
    TaskFactory(owner=user, title="x" * 200)
    body = gql(LIST, {"filter": {"titleContains": "x" * length}})
    assert body["data"] is None
    assert [(e["message"], e["path"], e["extensions"]) for e in body["errors"]] == [
        (
            f"titleContains must be at most 200 characters, the longest a title can be "
            f"(it has {length}).",
            ["tasks"],
            {"code": "max_length"},
        )
    ]
