"""Which task events each graph change records in the outbox: task.updated when a task's
pre-tasks change, task.ready when a deletion or a removed edge frees a dependent, nothing when
the change is refused, and a fixed number of queries whatever the number of dependents."""

import pytest
from django.core.exceptions import ValidationError

from tasks import services
from tasks.models import Task, TaskDependency
from tests.factories import DoneTaskFactory, TaskDependencyFactory, TaskFactory
from tests.graphql import global_id
from webhooks import services as webhooks
from webhooks.models import EventType, WebhookDelivery, WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(user, receiver):
    return webhooks.webhook_create(
        user=user,
        url=receiver.url,
        events=[t.value for t in EventType if t.startswith("task.")],
    ).endpoint


def recorded() -> list[tuple[str, int]]:
    """(type, data.task.id) of every event recorded, sorted (the events of one transaction
    share their moment and have no order)."""
    return sorted((e.type, e.data["task"]["id"]) for e in WebhookEvent.objects.all())


def depends(task: Task, *pre_tasks: Task) -> None:
    for pre_task in pre_tasks:
        TaskDependencyFactory(task=task, pre_task=pre_task)


def tid(task: Task) -> str:
    return global_id("Task", task.pk)


# taskAddPreTasks


def test_adding_pre_tasks_records_task_updated_only(user, endpoint):
    task, open_pre, done_pre = (
        TaskFactory(owner=user),
        TaskFactory(owner=user),
        DoneTaskFactory(owner=user),
    )
    services.task_pre_tasks_add(task=task, pre_task_ids=[open_pre.pk, done_pre.pk])
    # No "not ready" event for gaining an open pre-task.
    assert recorded() == [("task.updated", task.pk)]


def test_adding_only_pre_tasks_already_there_records_nothing(user, endpoint):
    task, pre = TaskFactory(owner=user), TaskFactory(owner=user)
    depends(task, pre)
    services.task_pre_tasks_add(task=task, pre_task_ids=[pre.pk])
    assert recorded() == []
    assert list(TaskDependency.objects.values_list("pre_task_id", "task_id")) == [(pre.pk, task.pk)]


def test_an_add_refused_for_a_cycle_records_nothing(user, endpoint):
    first, second, outsider = (TaskFactory(owner=user) for _ in range(3))
    depends(second, first)
    with pytest.raises(services.PreTaskCycleError):
        services.task_pre_tasks_add(task=first, pre_task_ids=[outsider.pk, second.pk])
    assert recorded() == []
    assert WebhookDelivery.objects.count() == 0
    assert TaskDependency.objects.count() == 1


def test_an_add_refused_over_the_limit_records_nothing(user, endpoint, settings):
    settings.TASK_MAX_PRE_TASKS = 1
    task, pre, another = (TaskFactory(owner=user) for _ in range(3))
    depends(task, pre)
    with pytest.raises(ValidationError):
        services.task_pre_tasks_add(task=task, pre_task_ids=[another.pk])
    assert recorded() == []


def test_task_add_pre_tasks_through_the_api_records_task_updated(user, gql, endpoint):
    task, pre = TaskFactory(owner=user), TaskFactory(owner=user)
    payload = gql.data(
        "mutation($t: ID!, $p: [ID!]!) { taskAddPreTasks(taskId: $t, preTaskIds: $p) "
        "{ errors { code } } }",
        {"t": tid(task), "p": [tid(pre)]},
    )
    assert payload == {"taskAddPreTasks": {"errors": []}}
    assert recorded() == [("task.updated", task.pk)]


# taskRemovePreTasks


def test_removing_the_last_open_pre_task_records_task_updated_and_task_ready(user, endpoint):
    task, open_pre, done_pre = (
        TaskFactory(owner=user),
        TaskFactory(owner=user),
        DoneTaskFactory(owner=user),
    )
    depends(task, open_pre, done_pre)
    services.task_pre_tasks_remove(task=task, pre_task_ids=[open_pre.pk])
    assert recorded() == [("task.ready", task.pk), ("task.updated", task.pk)]
    ready = WebhookEvent.objects.get(type="task.ready")
    assert ready.data["task"]["status"] == "OPEN"


def test_removing_one_of_two_open_pre_tasks_records_task_updated_only(user, endpoint):
    task, pre, other_pre = (TaskFactory(owner=user) for _ in range(3))
    depends(task, pre, other_pre)
    services.task_pre_tasks_remove(task=task, pre_task_ids=[pre.pk])
    assert recorded() == [("task.updated", task.pk)]


def test_removing_a_done_pre_task_of_a_ready_task_records_task_updated_only(user, endpoint):
    task, done_pre = TaskFactory(owner=user), DoneTaskFactory(owner=user)
    depends(task, done_pre)
    services.task_pre_tasks_remove(task=task, pre_task_ids=[done_pre.pk])
    # It was ready before: nothing became ready.
    assert recorded() == [("task.updated", task.pk)]


def test_removing_the_open_pre_task_of_a_done_task_records_task_updated_only(user, endpoint):
    task, pre = DoneTaskFactory(owner=user), TaskFactory(owner=user)
    depends(task, pre)
    services.task_pre_tasks_remove(task=task, pre_task_ids=[pre.pk])
    assert recorded() == [("task.updated", task.pk)]


def test_removing_tasks_that_are_not_pre_tasks_records_nothing(user, endpoint):
    task, stranger = TaskFactory(owner=user), TaskFactory(owner=user)
    services.task_pre_tasks_remove(task=task, pre_task_ids=[stranger.pk])
    assert recorded() == []


def test_a_remove_refused_for_a_missing_id_records_nothing(user, other_user, endpoint):
    task, pre = TaskFactory(owner=user), TaskFactory(owner=user)
    depends(task, pre)
    theirs = TaskFactory(owner=other_user)
    with pytest.raises(ValidationError):
        services.task_pre_tasks_remove(task=task, pre_task_ids=[pre.pk, theirs.pk])
    assert recorded() == []
    assert TaskDependency.objects.count() == 1


def test_task_remove_pre_tasks_through_the_api_records_task_updated_and_task_ready(
    user, gql, endpoint
):
    task, pre = TaskFactory(owner=user), TaskFactory(owner=user)
    depends(task, pre)
    payload = gql.data(
        "mutation($t: ID!, $p: [ID!]!) { taskRemovePreTasks(taskId: $t, preTaskIds: $p) "
        "{ task { isReady } errors { code } } }",
        {"t": tid(task), "p": [tid(pre)]},
    )
    assert payload == {"taskRemovePreTasks": {"task": {"isReady": True}, "errors": []}}
    assert recorded() == [("task.ready", task.pk), ("task.updated", task.pk)]


# taskUpdate with preTaskIds (the whole set)


def test_replacing_open_pre_tasks_with_done_ones_records_task_updated_and_task_ready(
    user, endpoint
):
    task, open_pre, done_pre = (
        TaskFactory(owner=user),
        TaskFactory(owner=user),
        DoneTaskFactory(owner=user),
    )
    depends(task, open_pre)
    services.task_update(task=task, title="Renamed", pre_task_ids=[done_pre.pk])
    assert recorded() == [("task.ready", task.pk), ("task.updated", task.pk)]
    assert WebhookEvent.objects.get(type="task.ready").data["task"]["title"] == "Renamed"


def test_replacing_open_pre_tasks_with_other_open_ones_records_task_updated_only(user, endpoint):
    task, pre, other_pre = (TaskFactory(owner=user) for _ in range(3))
    depends(task, pre)
    services.task_update(task=task, pre_task_ids=[other_pre.pk])
    assert recorded() == [("task.updated", task.pk)]


def test_an_update_refused_for_a_cycle_records_nothing(user, endpoint):
    first, second, third = (TaskFactory(owner=user) for _ in range(3))
    depends(second, first)
    depends(third, second)
    with pytest.raises(services.PreTaskCycleError):
        services.task_update(task=second, pre_task_ids=[third.pk])
    assert recorded() == []
    assert set(TaskDependency.objects.values_list("pre_task_id", "task_id")) == {
        (first.pk, second.pk),
        (second.pk, third.pk),
    }


# taskDelete


def test_deleting_a_dependents_last_open_pre_task_records_task_ready_for_it_alone(user, endpoint):
    pre = TaskFactory(owner=user, title="Pre")
    freed = TaskFactory(owner=user, title="Freed")
    also_freed = TaskFactory(owner=user, title="Also freed")
    still_blocked = TaskFactory(owner=user, title="Still blocked")
    already_done = DoneTaskFactory(owner=user, title="Already done")
    other_open = TaskFactory(owner=user, title="Other open")
    depends(freed, pre)
    depends(also_freed, pre, DoneTaskFactory(owner=user))
    depends(still_blocked, pre, other_open)
    depends(already_done, pre)
    pre_pk = pre.pk
    services.task_delete(task=pre)
    assert recorded() == [
        ("task.deleted", pre_pk),
        ("task.ready", freed.pk),
        ("task.ready", also_freed.pk),
    ]


def test_deleting_a_done_pre_task_records_task_deleted_only(user, endpoint):
    done_pre, dependent = DoneTaskFactory(owner=user), TaskFactory(owner=user)
    depends(dependent, done_pre)
    pre_pk = done_pre.pk
    services.task_delete(task=done_pre)
    # The dependent was ready already.
    assert recorded() == [("task.deleted", pre_pk)]


def test_deleting_a_dependent_records_task_deleted_only(user, endpoint):
    pre, dependent = TaskFactory(owner=user), TaskFactory(owner=user)
    depends(dependent, pre)
    dependent_pk = dependent.pk
    services.task_delete(task=dependent)
    assert recorded() == [("task.deleted", dependent_pk)]


def test_task_delete_through_the_api_records_task_ready_for_the_freed_dependent(
    user, gql, endpoint
):
    pre, dependent = TaskFactory(owner=user), TaskFactory(owner=user)
    depends(dependent, pre)
    payload = gql.data(
        "mutation($id: ID!) { taskDelete(id: $id) { deletedId errors { code } } }",
        {"id": tid(pre)},
    )
    assert payload == {"taskDelete": {"deletedId": tid(pre), "errors": []}}
    assert recorded() == [("task.deleted", pre.pk), ("task.ready", dependent.pk)]


@pytest.mark.parametrize("dependents", [1, 30])
def test_deleting_a_pre_task_costs_the_same_queries_whatever_its_dependents(
    user, endpoint, django_assert_num_queries, dependents
):
    pre, other_open = TaskFactory(owner=user), TaskFactory(owner=user)
    freed = Task.objects.bulk_create([Task(owner=user, title=f"F{n}") for n in range(dependents)])
    blocked = Task.objects.bulk_create([Task(owner=user, title=f"B{n}") for n in range(dependents)])
    TaskDependency.objects.bulk_create(
        [TaskDependency(task=t, pre_task=pre) for t in [*freed, *blocked]]
        + [TaskDependency(task=t, pre_task=other_open) for t in blocked]
    )
    # savepoint, owner lock, the freed dependents, the endpoints, the events, their
    # deliveries, then the deletion: its edges (both ways in one), its reminders, the task;
    # release
    pre_pk = pre.pk
    with django_assert_num_queries(10):
        services.task_delete(task=pre)
    assert recorded() == [
        ("task.deleted", pre_pk),
        *(("task.ready", t.pk) for t in freed),
    ]


# What needs no event of its own


def test_reopening_a_pre_task_records_task_updated_for_it_and_nothing_for_its_dependents(
    user, endpoint
):
    done_pre, dependent = DoneTaskFactory(owner=user), TaskFactory(owner=user)
    depends(dependent, done_pre)
    services.task_reopen(task=done_pre)
    assert recorded() == [("task.updated", done_pre.pk)]
