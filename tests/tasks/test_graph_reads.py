"""Reading the pre-task graph: readiness, blockers, ancestors and descendants, schedule
conflicts, ready/blocked filters and taskOrder, each in a fixed number of SQL queries."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from tasks.models import Task, TaskDependency
from tests.factories import DoneTaskFactory, TaskFactory
from tests.graphql import global_id

pytestmark = pytest.mark.django_db

T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
LIST = """
query List($filter: TaskFilter, $first: Int, $after: String) {
  tasks(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { title isReady } }
  }
}
"""
TASK = """
query T($id: ID!, $transitive: Boolean! = false, $maxDepth: Int) {
  task(id: $id) {
    isReady
    blockers(transitive: $transitive) { title }
    ancestors(maxDepth: $maxDepth) { items { depth task { title } } truncated }
    descendants(maxDepth: $maxDepth) { items { depth task { title } } truncated }
    scheduleConflicts { title }
  }
}
"""
ORDER = "query O($rootId: ID) { taskOrder(rootId: $rootId) { title } }"


def tid(task: Task) -> str:
    return global_id("Task", task.pk)


def link(pre: Task, task: Task) -> None:
    TaskDependency.objects.create(pre_task=pre, task=task)


def chain(user, length: int, prefix: str = "T") -> list[Task]:
    tasks = Task.objects.bulk_create(Task(owner=user, title=f"{prefix}{i}") for i in range(length))
    TaskDependency.objects.bulk_create(
        TaskDependency(pre_task=a, task=b) for a, b in itertools.pairwise(tasks)
    )
    return tasks


@pytest.fixture
def house(user):
    """buy (done) -> sand -> prime -> paint <- hire (open); paint -> invite."""
    buy = DoneTaskFactory(owner=user, title="Buy paint")
    sand = TaskFactory(owner=user, title="Sand", scheduled_at=T0 + timedelta(days=3))
    prime = TaskFactory(owner=user, title="Prime", scheduled_at=T0 + timedelta(days=1))
    hire = TaskFactory(owner=user, title="Hire painter", scheduled_at=T0 + timedelta(days=5))
    paint = TaskFactory(owner=user, title="Paint", scheduled_at=T0 + timedelta(days=4))
    invite = TaskFactory(owner=user, title="Invite friends")
    for pre, task in [(buy, sand), (sand, prime), (prime, paint), (hire, paint), (paint, invite)]:
        link(pre, task)
    TaskFactory(title="Someone else's task")
    return {t.title: t for t in (buy, sand, prime, hire, paint, invite)}


def test_a_task_is_ready_when_no_pre_task_is_open(house, gql):
    assert gql.data(TASK, {"id": tid(house["Sand"])})["task"]["isReady"] is True
    assert gql.data(TASK, {"id": tid(house["Prime"])})["task"]["isReady"] is False


def test_blockers_are_the_open_pre_tasks(house, gql):
    task = gql.data(TASK, {"id": tid(house["Paint"])})["task"]
    assert task["blockers"] == [{"title": "Prime"}, {"title": "Hire painter"}]


def test_unscheduled_blockers_come_last(house, user, gql):
    link(TaskFactory(owner=user, title="Call painter"), house["Paint"])
    direct = gql.data(TASK, {"id": tid(house["Paint"])})["task"]["blockers"]
    assert direct == [{"title": "Prime"}, {"title": "Hire painter"}, {"title": "Call painter"}]
    every = gql.data(TASK, {"id": tid(house["Paint"]), "transitive": True})["task"]["blockers"]
    assert every == [
        {"title": "Prime"},
        {"title": "Sand"},
        {"title": "Hire painter"},
        {"title": "Call painter"},
    ]


def test_transitive_blockers_are_every_open_ancestor(house, gql):
    task = gql.data(TASK, {"id": tid(house["Paint"]), "transitive": True})["task"]
    assert task["blockers"] == [{"title": "Prime"}, {"title": "Sand"}, {"title": "Hire painter"}]


def test_ancestors_come_with_their_depth_nearest_first(house, gql):
    task = gql.data(TASK, {"id": tid(house["Invite friends"])})["task"]
    assert task["ancestors"]["items"] == [
        {"depth": 1, "task": {"title": "Paint"}},
        {"depth": 2, "task": {"title": "Prime"}},
        {"depth": 2, "task": {"title": "Hire painter"}},
        {"depth": 3, "task": {"title": "Sand"}},
        {"depth": 4, "task": {"title": "Buy paint"}},
    ]
    assert task["descendants"]["items"] == []


def test_descendants_come_with_their_depth_and_max_depth_cuts_both(house, gql):
    task = gql.data(TASK, {"id": tid(house["Sand"]), "maxDepth": 2})["task"]
    assert task["descendants"]["items"] == [
        {"depth": 1, "task": {"title": "Prime"}},
        {"depth": 2, "task": {"title": "Paint"}},
    ]
    assert task["ancestors"]["items"] == [{"depth": 1, "task": {"title": "Buy paint"}}]


def test_depth_is_the_shortest_distance(user, gql):
    a, _b, c = chain(user, 3)
    link(a, c)
    task = gql.data(TASK, {"id": tid(c)})["task"]
    assert task["ancestors"]["items"] == [
        {"depth": 1, "task": {"title": "T0"}},
        {"depth": 1, "task": {"title": "T1"}},
    ]


def test_schedule_conflicts_are_pre_tasks_scheduled_after_the_task(house, gql):
    assert gql.data(TASK, {"id": tid(house["Paint"])})["task"]["scheduleConflicts"] == [
        {"title": "Hire painter"}
    ]
    assert gql.data(TASK, {"id": tid(house["Prime"])})["task"]["scheduleConflicts"] == [
        {"title": "Sand"}
    ]
    # An unscheduled task has no schedule to break.
    assert gql.data(TASK, {"id": tid(house["Invite friends"])})["task"]["scheduleConflicts"] == []


def test_the_ready_filter_lists_tasks_without_open_pre_tasks(house, gql):
    data = gql.data(LIST, {"filter": {"ready": True}})
    assert [e["node"] for e in data["tasks"]["edges"]] == [
        {"title": "Buy paint", "isReady": True},
        {"title": "Sand", "isReady": True},
        {"title": "Hire painter", "isReady": True},
    ]
    assert data["tasks"]["totalCount"] == 3


@pytest.mark.parametrize(
    "filter,expected",
    [
        ({"blocked": True}, ["Prime", "Paint", "Invite friends"]),
        ({"blocked": False}, ["Buy paint", "Sand", "Hire painter"]),
        ({"ready": False}, ["Prime", "Paint", "Invite friends"]),
        ({"ready": True, "status": "OPEN"}, ["Sand", "Hire painter"]),
        ({"ready": True, "titleContains": "a"}, ["Buy paint", "Sand", "Hire painter"]),
        ({"blocked": True, "scheduledAfter": "2030-01-03T00:00:00Z"}, ["Paint"]),
        ({"ready": True, "blocked": True}, []),
    ],
)
def test_ready_and_blocked_combine_with_the_other_filters(house, gql, filter, expected):
    data = gql.data(LIST, {"filter": filter})
    assert [e["node"]["title"] for e in data["tasks"]["edges"]] == expected
    assert data["tasks"]["totalCount"] == len(expected)


def test_the_ready_filter_pages(house, gql):
    first = gql.data(LIST, {"filter": {"ready": True}, "first": 2})["tasks"]
    assert [e["node"]["title"] for e in first["edges"]] == ["Buy paint", "Sand"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = gql.data(
        LIST, {"filter": {"ready": True}, "first": 2, "after": first["pageInfo"]["endCursor"]}
    )["tasks"]
    assert [e["node"]["title"] for e in rest["edges"]] == ["Hire painter"]
    assert rest["pageInfo"]["hasNextPage"] is False


def test_completing_the_last_open_pre_task_makes_the_dependent_ready(house, gql):
    gql.data(
        "mutation C($id: ID!) { taskComplete(id: $id) { errors { code } } }",
        {"id": tid(house["Hire painter"])},
    )
    task = gql.data(TASK, {"id": tid(house["Paint"])})["task"]
    assert task["blockers"] == [{"title": "Prime"}]


def test_task_order_puts_every_task_after_its_pre_tasks_ties_by_schedule_then_id(house, gql):
    # Free at the start: Buy paint (unscheduled) and Hire painter (day 5): the scheduled first.
    assert [t["title"] for t in gql.data(ORDER)["taskOrder"]] == [
        "Hire painter",
        "Buy paint",
        "Sand",
        "Prime",
        "Paint",
        "Invite friends",
    ]


def test_task_order_of_a_root_covers_its_ancestors_and_ends_with_it(house, gql):
    data = gql.data(ORDER, {"rootId": tid(house["Prime"])})
    assert [t["title"] for t in data["taskOrder"]] == ["Buy paint", "Sand", "Prime"]


def test_task_order_ties_go_to_the_older_task_when_unscheduled(user, gql):
    for title in ("C", "A", "B"):
        TaskFactory(owner=user, title=title)
    assert [t["title"] for t in gql.data(ORDER)["taskOrder"]] == ["C", "A", "B"]


def test_task_order_of_another_users_task_is_null(house, other_user, gql):
    theirs = TaskFactory(owner=other_user)
    assert gql.data(ORDER, {"rootId": tid(theirs)}) == {"taskOrder": None}
    assert gql.data(ORDER, {"rootId": global_id("User", 1)}) == {"taskOrder": None}


def test_another_users_graph_never_shows(house, other_user, other_gql):
    TaskFactory(owner=other_user, title="Theirs")
    assert other_gql.data(TASK, {"id": tid(house["Paint"])}) == {"task": None}
    assert other_gql.data(ORDER)["taskOrder"] == [{"title": "Theirs"}]


def test_graph_reads_need_a_login(house, anon):
    body = anon(ORDER)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


NESTED = """
query L($filter: TaskFilter) {
  tasks(filter: $filter, first: 100) {
    edges { node { title isReady blockers { title } scheduleConflicts { title }
                   preTasks { title isReady } } }
  }
}
"""


@pytest.mark.parametrize("length", [5, 150])
def test_graph_fields_on_a_list_cost_the_same_queries_whatever_its_length(
    user, gql, django_assert_num_queries, length
):
    tasks = chain(user, length)
    # Every other task done; each scheduled before its pre-task, so each pre-task conflicts.
    for i, task in enumerate(tasks):
        task.scheduled_at = T0 - timedelta(hours=i)
        task.status, task.completed_at = ("DONE", T0) if i % 2 else ("OPEN", None)
    Task.objects.bulk_update(tasks, ["scheduled_at", "status", "completed_at"])
    # session, user, the page (isReady is an EXISTS in it), then the blockers,
    # scheduleConflicts and preTasks prefetches (the preTasks' isReady rides in the last)
    with django_assert_num_queries(6):
        data = gql.data(NESTED, {"filter": {"ready": False}})
    nodes = [e["node"] for e in data["tasks"]["edges"]]
    # Blocked: the tasks right after an open one, i.e. the odd positions.
    assert [n["title"] for n in nodes] == [f"T{i}" for i in range(1, length, 2)][:100]
    for node in nodes:
        pre = f"T{int(node['title'][1:]) - 1}"
        assert node == {
            "title": node["title"],
            "isReady": False,
            "blockers": [{"title": pre}],
            "scheduleConflicts": [{"title": pre}],
            # The open pre-task waits only for a done one (or none): it is ready.
            "preTasks": [{"title": pre, "isReady": True}],
        }


@pytest.mark.parametrize("length", [5, 500])
def test_transitive_reads_of_a_task_cost_the_same_queries_whatever_the_chain_length(
    user, gql, django_assert_num_queries, length
):
    tail = chain(user, length)[-1]
    # session, user, the task (isReady is an EXISTS in it), the direct-blockers prefetch
    # (planned whatever the argument), the transitive blockers' walk and rows, the
    # ancestors' walk and rows, the descendants' walk (no rows to load: there are none)
    with django_assert_num_queries(9):
        data = gql.data(
            """query T($id: ID!) { task(id: $id) { isReady
                 blockers(transitive: true) { title }
                 ancestors { items { depth task { title } } truncated }
                 descendants { items { depth } truncated } } }""",
            {"id": tid(tail)},
        )
    task = data["task"]
    # At most GRAPHQL_MAX_TRANSITIVE (200), nearest first; the flag says when it cut.
    found = min(length - 1, 200)
    assert len(task["blockers"]) == found
    ancestors = task["ancestors"]["items"]
    assert len(ancestors) == found
    assert ancestors[0] == {"depth": 1, "task": {"title": f"T{length - 2}"}}
    assert ancestors[-1] == {"depth": found, "task": {"title": f"T{length - 1 - found}"}}
    assert task["ancestors"]["truncated"] is (length - 1 > 200)
    assert task["descendants"] == {"items": [], "truncated": False}


@pytest.mark.parametrize("length", [5, 500])
def test_task_order_costs_the_same_queries_whatever_the_graph_size(
    user, gql, django_assert_num_queries, length
):
    tasks = chain(user, length)
    # session, user, root, the tasks (in schedule order), the edges
    with django_assert_num_queries(5):
        data = gql.data(ORDER, {"rootId": tid(tasks[-1])})
    assert [t["title"] for t in data["taskOrder"]] == [f"T{i}" for i in range(length)]
    # session, user, the tasks (in schedule order), the edges
    with django_assert_num_queries(4):
        data = gql.data(ORDER)
    assert len(data["taskOrder"]) == length
