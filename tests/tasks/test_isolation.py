"""Another user's tasks behave exactly like tasks that do not exist; anonymous callers are refused."""

import pytest

from tasks.models import Task, TaskDependency
from tests.factories import TaskFactory
from tests.graphql import global_id

pytestmark = pytest.mark.django_db

MUTATIONS = {
    "taskUpdate": 'mutation M($id: ID!) { taskUpdate(id: $id, input: {title: "pwned"}) '
    "{ task { id } errors { field message code } } }",
    "taskDelete": "mutation M($id: ID!) { taskDelete(id: $id) { deletedId errors { field message code } } }",
    "taskComplete": "mutation M($id: ID!) { taskComplete(id: $id) { task { id } errors { field message code } } }",
    "taskReopen": "mutation M($id: ID!) { taskReopen(id: $id) { task { id } errors { field message code } } }",
}
NOT_FOUND = [{"field": "id", "message": "Task not found.", "code": "not_found"}]


@pytest.fixture
def victim_task(other_user):
    pre = TaskFactory(owner=other_user, title="secret pre")
    task = TaskFactory(owner=other_user, title="secret")
    TaskDependency.objects.create(task=task, pre_task=pre)
    return task


def snapshot():
    return list(Task.objects.order_by("pk").values()), TaskDependency.objects.count()


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutations_on_another_users_task_answer_like_a_missing_task(name, gql, victim_task):
    before = snapshot()
    foreign = gql.data(MUTATIONS[name], {"id": global_id("Task", victim_task.pk)})[name]
    missing = gql.data(MUTATIONS[name], {"id": global_id("Task", 987_654)})[name]
    assert foreign == missing
    assert foreign["errors"] == NOT_FOUND
    assert snapshot() == before


def test_another_users_task_is_invisible_to_queries(gql, victim_task, user):
    TaskFactory(owner=user, title="mine")
    data = gql.data(
        "query G($id: ID!) { task(id: $id) { title } tasks { totalCount edges { node { title } } } }",
        {"id": global_id("Task", victim_task.pk)},
    )
    assert data == {
        "task": None,
        "tasks": {"totalCount": 1, "edges": [{"node": {"title": "mine"}}]},
    }


def test_another_users_task_cannot_become_a_pre_task(gql, victim_task):
    data = gql.data(
        'mutation M($ids: [ID!]!) { taskCreate(input: {title: "x", preTaskIds: $ids}) '
        "{ task { id } errors { code } } }",
        {"ids": [global_id("Task", victim_task.pk)]},
    )
    assert data["taskCreate"] == {"task": None, "errors": [{"code": "not_found"}]}


def test_edges_never_show_another_users_task(gql, user, victim_task):
    data = gql.data("{ tasks { edges { node { preTasks { title } dependents { title } } } } }")
    assert data == {"tasks": {"edges": []}}


@pytest.mark.parametrize(
    "query,variables",
    [
        ("query G($id: ID!) { task(id: $id) { title } }", {"id": "VGFzazox"}),
        ("{ tasks { totalCount } }", {}),
        ('mutation { taskCreate(input: {title: "x"}) { task { id } } }', {}),
        *[(query, {"id": "VGFzazox"}) for query in MUTATIONS.values()],
    ],
)
def test_anonymous_callers_get_an_authentication_error(anon, victim_task, query, variables):
    before = snapshot()
    body = anon(query, variables)
    assert body["errors"][0]["message"] == "Authentication required: log in first."
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert snapshot() == before
