"""Per-owner maxima: tasks per user and pre-tasks per task, each a setting, refused with a
payload error (code `limit_reached`) and nothing written."""

import pytest

from tasks.models import Task, TaskDependency
from tests.factories import TaskFactory
from tests.graphql import global_id

pytestmark = pytest.mark.django_db

CREATE = """
mutation C($input: TaskCreateInput!) {
  taskCreate(input: $input) { task { title } errors { field message code } }
}
"""
UPDATE = """
mutation U($id: ID!, $input: TaskUpdateInput!) {
  taskUpdate(id: $id, input: $input) { task { title } errors { field message code } }
}
"""
ADD = """
mutation A($id: ID!, $pre: [ID!]!) {
  taskAddPreTasks(taskId: $id, preTaskIds: $pre) { task { title } errors { field message code } }
}
"""


def gid(task: Task) -> str:
    return global_id("Task", task.pk)


def test_a_user_at_the_task_limit_cannot_create_more(user, gql, settings):
    settings.USER_MAX_TASKS = 3
    TaskFactory.create_batch(2, owner=user)
    created = gql.data(CREATE, {"input": {"title": "third"}})["taskCreate"]
    assert created == {"task": {"title": "third"}, "errors": []}
    refused = gql.data(CREATE, {"input": {"title": "fourth"}})["taskCreate"]
    assert refused == {
        "task": None,
        "errors": [
            {
                "field": None,
                "message": "You have reached the limit of 3 tasks: delete some before adding more.",
                "code": "limit_reached",
            }
        ],
    }
    assert Task.objects.filter(owner=user).count() == 3


def test_the_task_limit_counts_each_users_own_tasks(user, other_user, gql, settings):
    settings.USER_MAX_TASKS = 1
    TaskFactory(owner=other_user)
    assert gql.data(CREATE, {"input": {"title": "mine"}})["taskCreate"]["errors"] == []


LIMIT_ERROR = {
    "field": "preTaskIds",
    "message": "A task can have at most 2 pre-tasks (this would make 3).",
    "code": "limit_reached",
}


def test_a_task_created_with_too_many_pre_tasks_is_refused(user, gql, settings):
    settings.TASK_MAX_PRE_TASKS = 2
    pre = TaskFactory.create_batch(3, owner=user)
    body = gql.data(CREATE, {"input": {"title": "t", "preTaskIds": [gid(t) for t in pre]}})
    assert body["taskCreate"] == {"task": None, "errors": [LIMIT_ERROR]}
    assert Task.objects.count() == 3


def test_an_update_to_too_many_pre_tasks_is_refused(user, gql, settings):
    settings.TASK_MAX_PRE_TASKS = 2
    task, *pre = TaskFactory.create_batch(4, owner=user)
    body = gql.data(UPDATE, {"id": gid(task), "input": {"preTaskIds": [gid(t) for t in pre]}})
    assert body["taskUpdate"] == {"task": None, "errors": [LIMIT_ERROR]}
    # Replacing the set: the old pre-tasks do not count.
    TaskDependency.objects.create(task=task, pre_task=pre[0])
    body = gql.data(UPDATE, {"id": gid(task), "input": {"preTaskIds": [gid(pre[1]), gid(pre[2])]}})
    assert body["taskUpdate"]["errors"] == []
    assert set(task.pre_tasks.values_list("pk", flat=True)) == {pre[1].pk, pre[2].pk}


def test_adding_pre_tasks_counts_the_ones_already_there(user, gql, settings):
    settings.TASK_MAX_PRE_TASKS = 2
    task, *pre = TaskFactory.create_batch(4, owner=user)
    TaskDependency.objects.create(task=task, pre_task=pre[0])
    # Re-adding an existing pre-task adds nothing.
    body = gql.data(ADD, {"id": gid(task), "pre": [gid(pre[0]), gid(pre[1])]})
    assert body["taskAddPreTasks"]["errors"] == []
    body = gql.data(ADD, {"id": gid(task), "pre": [gid(pre[2])]})
    assert body["taskAddPreTasks"] == {"task": None, "errors": [LIMIT_ERROR]}
    assert task.pre_tasks.count() == 2
