"""Editing the pre-task graph: taskAddPreTasks, taskRemovePreTasks, taskUpdate(preTaskIds),
taskComplete(force), taskDelete. Refusals are all or nothing and name what is wrong."""

import itertools

import pytest

from tasks import services
from tasks.models import Task, TaskDependency
from tests.factories import DoneTaskFactory, TaskFactory
from tests.graphql import global_id

pytestmark = pytest.mark.django_db

ADD = """
mutation Add($taskId: ID!, $preTaskIds: [ID!]!) {
  taskAddPreTasks(taskId: $taskId, preTaskIds: $preTaskIds) {
    task { title preTasks { title } }
    errors { field message code }
  }
}
"""
REMOVE = """
mutation Remove($taskId: ID!, $preTaskIds: [ID!]!) {
  taskRemovePreTasks(taskId: $taskId, preTaskIds: $preTaskIds) {
    task { title preTasks { title } }
    errors { field message code }
  }
}
"""
UPDATE = """
mutation Update($id: ID!, $input: TaskUpdateInput!) {
  taskUpdate(id: $id, input: $input) {
    task { title preTasks { title } }
    errors { field message code }
  }
}
"""
COMPLETE = """
mutation C($id: ID!, $force: Boolean! = false) {
  taskComplete(id: $id, force: $force) { task { status } errors { field message code } }
}
"""
DELETE = "mutation D($id: ID!) { taskDelete(id: $id) { deletedId errors { code } } }"
READY = "query R($id: ID!) { task(id: $id) { isReady blockers { title } } }"


def tid(task: Task) -> str:
    return global_id("Task", task.pk)


def edges() -> set[tuple[str, str]]:
    return {
        (pre, task)
        for pre, task in TaskDependency.objects.values_list("pre_task__title", "task__title")
    }


def chain(user, *titles: str) -> list[Task]:
    """Tasks each of which is a pre-task of the next."""
    tasks = [TaskFactory(owner=user, title=title) for title in titles]
    TaskDependency.objects.bulk_create(
        TaskDependency(pre_task=a, task=b) for a, b in itertools.pairwise(tasks)
    )
    return tasks


def add(gql, task, *pre_tasks):
    return gql.data(ADD, {"taskId": tid(task), "preTaskIds": [tid(p) for p in pre_tasks]})[
        "taskAddPreTasks"
    ]


def test_task_add_pre_tasks_adds_them_and_returns_the_task(user, gql):
    paint, buy, sand = chain(user, "Paint", "Buy paint", "Sand")
    TaskDependency.objects.all().delete()
    payload = add(gql, paint, buy, sand)
    assert payload == {
        "task": {"title": "Paint", "preTasks": [{"title": "Buy paint"}, {"title": "Sand"}]},
        "errors": [],
    }
    assert edges() == {("Buy paint", "Paint"), ("Sand", "Paint")}


def test_adding_an_existing_pre_task_is_a_no_op(user, gql):
    buy, paint = chain(user, "Buy paint", "Paint")
    payload = add(gql, paint, buy, buy)
    assert payload["errors"] == []
    assert payload["task"]["preTasks"] == [{"title": "Buy paint"}]
    assert TaskDependency.objects.count() == 1


def test_a_task_cannot_be_its_own_pre_task(user, gql):
    paint = TaskFactory(owner=user, title="Paint")
    buy = TaskFactory(owner=user, title="Buy paint")
    assert add(gql, paint, buy, paint) == {
        "task": None,
        "errors": [
            {
                "field": "preTaskIds",
                "message": "A task cannot be its own pre-task.",
                "code": "self_dependency",
            }
        ],
    }
    assert edges() == set()


def test_another_users_task_is_refused_as_not_found_and_nothing_is_added(user, other_user, gql):
    paint = TaskFactory(owner=user, title="Paint")
    buy = TaskFactory(owner=user, title="Buy paint")
    theirs = TaskFactory(owner=other_user, title="Their task")
    assert add(gql, paint, buy, theirs)["errors"] == [
        {"field": "preTaskIds", "message": "1 of the pre-tasks do not exist.", "code": "not_found"}
    ]
    assert edges() == set()


def test_a_missing_task_or_a_foreign_id_is_refused_as_not_found(user, gql):
    paint = TaskFactory(owner=user, title="Paint")
    payload = gql.data(ADD, {"taskId": tid(paint), "preTaskIds": [global_id("Task", 999_999)]})
    assert payload["taskAddPreTasks"]["errors"] == [
        {"field": "preTaskIds", "message": "1 of the pre-tasks do not exist.", "code": "not_found"}
    ]
    payload = gql.data(ADD, {"taskId": tid(paint), "preTaskIds": [global_id("User", 1)]})
    assert payload["taskAddPreTasks"]["errors"] == [
        {"field": "preTaskIds", "message": "1 of the pre-tasks do not exist.", "code": "not_found"}
    ]


def test_adding_pre_tasks_to_another_users_task_answers_like_a_missing_task(user, other_user, gql):
    theirs = TaskFactory(owner=other_user)
    mine = TaskFactory(owner=user)
    assert add(gql, theirs, mine)["errors"] == [
        {"field": "taskId", "message": "Task not found.", "code": "not_found"}
    ]
    assert edges() == set()


def test_an_edge_that_closes_a_cycle_is_refused_and_the_cycle_is_named_in_order(user, gql):
    buy, sand, paint = chain(user, "Buy paint", "Sand", "Paint")
    payload = add(gql, buy, paint)
    cycle = " -> ".join(f'"{t.title}" ({tid(t)})' for t in (paint, buy, sand, paint))
    assert payload == {
        "task": None,
        "errors": [
            {
                "field": "preTaskIds",
                "message": "These pre-tasks would close a cycle (each must be done before "
                f"the next): {cycle}.",
                "code": "cycle",
            }
        ],
    }
    assert edges() == {("Buy paint", "Sand"), ("Sand", "Paint")}


def test_the_cycle_named_is_the_shortest_one(user, gql):
    a, _b, _c, d = chain(user, "A", "B", "C", "D")
    TaskDependency.objects.create(pre_task=a, task=d)
    message = add(gql, a, d)["errors"][0]["message"]
    assert message.endswith(f'"D" ({tid(d)}) -> "A" ({tid(a)}) -> "D" ({tid(d)}).')


def test_one_cycle_closing_id_refuses_the_whole_call(user, gql):
    a, b = chain(user, "A", "B")
    c = TaskFactory(owner=user, title="C")
    payload = add(gql, a, c, b)
    assert [e["code"] for e in payload["errors"]] == ["cycle"]
    assert edges() == {("A", "B")}


def test_a_long_cycle_keeps_both_ends_of_the_message(user, gql):
    tasks = chain(user, *(f"T{i}" for i in range(30)))
    message = add(gql, tasks[0], tasks[-1])["errors"][0]["message"]
    assert f'"T29" ({tid(tasks[-1])}) -> "T0" ({tid(tasks[0])})' in message
    assert " -> ... 11 more ... -> " in message
    assert message.endswith(f'"T29" ({tid(tasks[-1])}).')


def test_task_remove_pre_tasks_removes_only_those(user, gql):
    buy, sand, paint = (TaskFactory(owner=user, title=t) for t in ("Buy paint", "Sand", "Paint"))
    TaskDependency.objects.create(pre_task=buy, task=paint)
    TaskDependency.objects.create(pre_task=sand, task=paint)
    payload = gql.data(REMOVE, {"taskId": tid(paint), "preTaskIds": [tid(buy)]})
    assert payload["taskRemovePreTasks"] == {
        "task": {"title": "Paint", "preTasks": [{"title": "Sand"}]},
        "errors": [],
    }


def test_removing_a_task_that_is_not_a_pre_task_is_a_no_op(user, gql):
    buy, paint = chain(user, "Buy paint", "Paint")
    payload = gql.data(REMOVE, {"taskId": tid(buy), "preTaskIds": [tid(paint)]})
    assert payload["taskRemovePreTasks"]["errors"] == []
    assert edges() == {("Buy paint", "Paint")}


def test_removing_with_one_unknown_id_removes_nothing(user, other_user, gql):
    buy, paint = chain(user, "Buy paint", "Paint")
    theirs = TaskFactory(owner=other_user)
    payload = gql.data(REMOVE, {"taskId": tid(paint), "preTaskIds": [tid(buy), tid(theirs)]})
    assert payload["taskRemovePreTasks"]["errors"] == [
        {"field": "preTaskIds", "message": "1 of the pre-tasks do not exist.", "code": "not_found"}
    ]
    assert edges() == {("Buy paint", "Paint")}


def test_task_update_pre_task_ids_replaces_the_set(user, gql):
    buy, sand, prime, paint = (
        TaskFactory(owner=user, title=t) for t in ("Buy paint", "Sand", "Prime", "Paint")
    )
    TaskDependency.objects.create(pre_task=buy, task=paint)
    TaskDependency.objects.create(pre_task=sand, task=paint)
    payload = gql.data(UPDATE, {"id": tid(paint), "input": {"preTaskIds": [tid(sand), tid(prime)]}})
    assert payload["taskUpdate"] == {
        "task": {"title": "Paint", "preTasks": [{"title": "Sand"}, {"title": "Prime"}]},
        "errors": [],
    }
    assert edges() == {("Sand", "Paint"), ("Prime", "Paint")}


def test_task_update_with_an_empty_list_removes_every_pre_task(user, gql):
    _buy, paint = chain(user, "Buy paint", "Paint")
    payload = gql.data(UPDATE, {"id": tid(paint), "input": {"preTaskIds": []}})
    assert payload["taskUpdate"]["task"]["preTasks"] == []
    assert edges() == set()


def test_task_update_refuses_null_pre_task_ids(user, gql):
    paint = TaskFactory(owner=user)
    payload = gql.data(UPDATE, {"id": tid(paint), "input": {"preTaskIds": None}})
    assert payload["taskUpdate"]["errors"] == [
        {"field": "preTaskIds", "message": "This field cannot be null.", "code": "null"}
    ]


def test_task_update_with_a_cycle_changes_nothing_at_all(user, gql):
    buy, paint = chain(user, "Buy paint", "Paint")
    payload = gql.data(
        UPDATE, {"id": tid(buy), "input": {"title": "Buy lots", "preTaskIds": [tid(paint)]}}
    )
    assert [e["code"] for e in payload["taskUpdate"]["errors"]] == ["cycle"]
    buy.refresh_from_db()
    assert buy.title == "Buy paint"
    assert edges() == {("Buy paint", "Paint")}


def test_task_update_reports_every_bad_field_at_once(user, gql):
    paint = TaskFactory(owner=user, title="Paint")
    payload = gql.data(
        UPDATE, {"id": tid(paint), "input": {"title": " ", "preTaskIds": [tid(paint)]}}
    )
    assert payload["taskUpdate"]["errors"] == [
        {"field": "title", "message": "Title is required.", "code": "blank"},
        {
            "field": "preTaskIds",
            "message": "A task cannot be its own pre-task.",
            "code": "self_dependency",
        },
    ]


def test_task_complete_is_refused_while_a_pre_task_is_open(user, gql):
    buy, sand, paint = (TaskFactory(owner=user, title=t) for t in ("Buy paint", "Sand", "Paint"))
    TaskDependency.objects.create(pre_task=buy, task=paint)
    TaskDependency.objects.create(pre_task=sand, task=paint)
    payload = gql.data(COMPLETE, {"id": tid(paint)})["taskComplete"]
    assert payload == {
        "task": None,
        "errors": [
            {
                "field": None,
                "message": 'Pre-tasks still open: "Buy paint", "Sand". Complete them first, '
                "or force it.",
                "code": "blocked",
            }
        ],
    }
    paint.refresh_from_db()
    assert paint.status == "OPEN"


def test_task_complete_with_force_completes_a_blocked_task(user, gql):
    _buy, paint = chain(user, "Buy paint", "Paint")
    payload = gql.data(COMPLETE, {"id": tid(paint), "force": True})["taskComplete"]
    assert payload == {"task": {"status": "DONE"}, "errors": []}


def test_task_complete_succeeds_once_the_pre_tasks_are_done(user, gql):
    buy = DoneTaskFactory(owner=user, title="Buy paint")
    paint = TaskFactory(owner=user, title="Paint")
    TaskDependency.objects.create(pre_task=buy, task=paint)
    payload = gql.data(COMPLETE, {"id": tid(paint)})["taskComplete"]
    assert payload == {"task": {"status": "DONE"}, "errors": []}


def test_deleting_a_pre_task_removes_its_edges_and_frees_its_dependent(user, gql):
    buy, paint = chain(user, "Buy paint", "Paint")
    assert gql.data(READY, {"id": tid(paint)})["task"] == {
        "isReady": False,
        "blockers": [{"title": "Buy paint"}],
    }
    gql.data(DELETE, {"id": tid(buy)})
    assert edges() == set()
    assert gql.data(READY, {"id": tid(paint)})["task"] == {"isReady": True, "blockers": []}


@pytest.mark.parametrize("length", [3, 300])
def test_adding_a_pre_task_costs_the_same_queries_whatever_the_chain_length(
    user, gql, django_assert_num_queries, length
):
    tasks = chain(user, *(f"T{i}" for i in range(length)))
    outsider = TaskFactory(owner=user, title="Outsider")
    # session, user, the task, the pre-tasks owned, savepoint, owner lock, the current
    # pre-tasks, cycle check, insert, the task.updated event's endpoints, release, then the
    # payload's preTasks
    with django_assert_num_queries(12):
        payload = add(gql, tasks[0], outsider)
    assert payload["errors"] == []


@pytest.mark.parametrize("length", [3, 300])
def test_refusing_a_cycle_costs_the_same_queries_whatever_the_chain_length(
    user, gql, django_assert_num_queries, length
):
    tasks = chain(user, *(f"T{i}" for i in range(length)))
    # session, user, the task, the pre-tasks owned, savepoint, owner lock, the current
    # pre-tasks, cycle check, the cycle's edges, its titles, rollback to the savepoint, release
    with django_assert_num_queries(12):
        payload = add(gql, tasks[0], tasks[-1])
    assert [e["code"] for e in payload["errors"]] == ["cycle"]


def test_task_update_keeps_the_old_pre_tasks_when_the_new_set_closes_a_cycle(user, gql):
    _buy, paint, invite = chain(user, "Buy paint", "Paint", "Invite friends")
    payload = gql.data(UPDATE, {"id": tid(paint), "input": {"preTaskIds": [tid(invite)]}})
    assert [e["code"] for e in payload["taskUpdate"]["errors"]] == ["cycle"]
    assert edges() == {("Buy paint", "Paint"), ("Paint", "Invite friends")}


def test_adding_no_pre_tasks_is_a_no_op(user, gql):
    _buy, paint = chain(user, "Buy paint", "Paint")
    payload = gql.data(ADD, {"taskId": tid(paint), "preTaskIds": []})
    assert payload["taskAddPreTasks"] == {
        "task": {"title": "Paint", "preTasks": [{"title": "Buy paint"}]},
        "errors": [],
    }


def test_the_service_reports_the_whole_cycle_to_python_callers(user):
    tasks = chain(user, *(f"T{i}" for i in range(25)))
    with pytest.raises(services.PreTaskCycleError) as refused:
        services.task_pre_tasks_add(task=tasks[0], pre_task_ids=[tasks[-1].pk])
    assert refused.value.cycle == [(t.pk, t.title) for t in (tasks[-1], *tasks)]
    assert refused.value.message_dict["pre_task_ids"][0].startswith(
        f'These pre-tasks would close a cycle (each must be done before the next): "T24" ({tasks[-1].pk})'
    )


def test_the_cycle_goes_through_the_nearest_of_several_pre_tasks(user, gql):
    a, b, c = chain(user, "A", "B", "C")
    message = add(gql, a, c, b)["errors"][0]["message"]
    assert message.endswith(f'"B" ({tid(b)}) -> "A" ({tid(a)}) -> "B" ({tid(b)}).')
