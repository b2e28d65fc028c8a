from datetime import UTC, datetime

import pytest

from tasks.models import Task, TaskDependency
from tests.factories import DoneTaskFactory, TaskFactory
from tests.graphql import global_id

pytestmark = pytest.mark.django_db

FIELDS = "id title description scheduledAt status completedAt createdAt updatedAt"
CREATE = f"""
mutation Create($input: TaskCreateInput!) {{
  taskCreate(input: $input) {{
    task {{ {FIELDS} preTasks {{ title }} dependents {{ title }} }}
    errors {{ field message code }}
  }}
}}
"""
UPDATE = """
mutation Update($id: ID!, $input: TaskUpdateInput!) {
  taskUpdate(id: $id, input: $input) {
    task { title description scheduledAt }
    errors { field message code }
  }
}
"""
DELETE = "mutation D($id: ID!) { taskDelete(id: $id) { deletedId errors { field message code } } }"
COMPLETE = """
mutation C($id: ID!) { taskComplete(id: $id) { task { status completedAt } errors { code } } }
"""
REOPEN = """
mutation R($id: ID!) { taskReopen(id: $id) { task { status completedAt } errors { code } } }
"""
GET = "query G($id: ID!) { task(id: $id) { title preTasks { title } dependents { title } } }"


def tid(task: Task) -> str:
    return global_id("Task", task.pk)


def tid_missing() -> str:
    return global_id("Task", 999_999)


def test_task_create_returns_the_task_with_its_pre_tasks(user, gql):
    first = TaskFactory(owner=user, title="Buy paint")
    data = gql.data(
        CREATE,
        {
            "input": {
                "title": "  Paint the fence ",
                "description": "Two coats.",
                "scheduledAt": "2030-05-01T09:30:00+02:00",
                "preTaskIds": [tid(first)],
            }
        },
    )
    payload = data["taskCreate"]
    assert payload["errors"] == []
    task = payload["task"]
    assert task["title"] == "Paint the fence"
    assert task["description"] == "Two coats."
    assert task["scheduledAt"] == "2030-05-01T07:30:00+00:00"
    assert task["status"] == "OPEN"
    assert task["completedAt"] is None
    assert task["preTasks"] == [{"title": "Buy paint"}]
    assert task["dependents"] == []
    created = Task.objects.get(title="Paint the fence")
    assert task["id"] == tid(created)
    assert created.owner == user
    assert list(created.pre_tasks.all()) == [first]


@pytest.mark.parametrize(
    "input,field,code,message",
    [
        ({"title": "   "}, "title", "blank", "Title is required."),
        (
            {"title": "x" * 201},
            "title",
            "max_length",
            "Title must be at most 200 characters (it has 201).",
        ),
        (
            {"title": "ok", "description": "d" * 10_001},
            "description",
            "max_length",
            "Description must be at most 10000 characters (it has 10001).",
        ),
        (
            {"title": "ok", "scheduledAt": "2030-05-01T09:30:00"},
            "scheduledAt",
            "naive_datetime",
            "Scheduled time needs a UTC offset, e.g. 2030-01-31T09:00:00+01:00.",
        ),
    ],
)
def test_task_create_refuses_bad_fields_and_writes_nothing(gql, input, field, code, message):
    data = gql.data(CREATE, {"input": input})
    assert data["taskCreate"] == {
        "task": None,
        "errors": [{"field": field, "message": message, "code": code}],
    }
    assert Task.objects.count() == 0


def test_task_create_reports_all_bad_fields_at_once(gql):
    data = gql.data(CREATE, {"input": {"title": "", "description": "d" * 10_001}})
    assert [(e["field"], e["code"]) for e in data["taskCreate"]["errors"]] == [
        ("title", "blank"),
        ("description", "max_length"),
    ]


def test_task_create_accepts_a_title_of_exactly_200_characters(gql):
    data = gql.data(CREATE, {"input": {"title": "x" * 200}})
    assert data["taskCreate"]["errors"] == []
    assert Task.objects.get().title == "x" * 200


@pytest.mark.parametrize("whose", ["another user's", "missing", "another type's"])
def test_task_create_refuses_foreign_missing_and_other_type_pre_task_ids_alike(
    gql, other_user, whose
):
    bad = {
        "another user's": lambda: tid(TaskFactory(owner=other_user)),
        "missing": tid_missing,
        "another type's": lambda: global_id("User", 1),
    }[whose]()

    data = gql.data(CREATE, {"input": {"title": "t", "preTaskIds": [bad]}})

    assert data["taskCreate"] == {
        "task": None,
        "errors": [
            {
                "field": "preTaskIds",
                "message": "1 of the pre-tasks do not exist.",
                "code": "not_found",
            }
        ],
    }
    assert Task.objects.filter(title="t").count() == 0
    assert TaskDependency.objects.count() == 0


def test_task_create_with_an_unparseable_date_is_a_graphql_error_not_a_500(gql):
    body = gql(CREATE, {"input": {"title": "t", "scheduledAt": "next tuesday"}})
    assert body["data"] is None
    assert "next tuesday" in body["errors"][0]["message"]
    assert Task.objects.count() == 0


def test_task_update_changes_only_given_fields(user, gql):
    task = TaskFactory(owner=user, title="Old", description="Keep me")
    data = gql.data(UPDATE, {"id": tid(task), "input": {"title": "New"}})
    assert data["taskUpdate"] == {
        "task": {"title": "New", "description": "Keep me", "scheduledAt": None},
        "errors": [],
    }


def test_task_update_sets_the_schedule(user, gql):
    task = TaskFactory(owner=user, scheduled_at=None)

    data = gql.data(UPDATE, {"id": tid(task), "input": {"scheduledAt": "2031-01-01T00:00:00Z"}})

    assert data["taskUpdate"]["task"]["scheduledAt"] == "2031-01-01T00:00:00+00:00"
    task.refresh_from_db()
    assert task.scheduled_at == datetime(2031, 1, 1, tzinfo=UTC)


def test_task_update_with_a_null_schedule_unschedules_the_task(user, gql):
    task = TaskFactory(owner=user, scheduled_at=datetime(2031, 1, 1, tzinfo=UTC))

    data = gql.data(UPDATE, {"id": tid(task), "input": {"scheduledAt": None}})

    assert data["taskUpdate"]["task"]["scheduledAt"] is None
    task.refresh_from_db()
    assert task.scheduled_at is None


def test_task_update_refuses_bad_input_without_a_partial_write(user, gql):
    task = TaskFactory(owner=user, title="Old", description="Keep me")
    data = gql.data(
        UPDATE, {"id": tid(task), "input": {"title": "New", "description": "d" * 10_001}}
    )
    assert data["taskUpdate"]["task"] is None
    assert [(e["field"], e["code"]) for e in data["taskUpdate"]["errors"]] == [
        ("description", "max_length")
    ]
    task.refresh_from_db()
    assert (task.title, task.description) == ("Old", "Keep me")


def test_task_update_refuses_a_null_title(user, gql):
    task = TaskFactory(owner=user, title="Old")
    data = gql.data(UPDATE, {"id": tid(task), "input": {"title": None}})
    assert data["taskUpdate"]["errors"] == [
        {"field": "title", "message": "This field cannot be null.", "code": "null"}
    ]


def test_task_delete_removes_the_task_and_its_edges(user, gql):
    pre = TaskFactory(owner=user, title="pre")
    task = TaskFactory(owner=user, title="task")
    TaskDependency.objects.create(task=task, pre_task=pre)
    data = gql.data(DELETE, {"id": tid(pre)})
    assert data["taskDelete"] == {"deletedId": tid(pre), "errors": []}
    assert list(Task.objects.values_list("title", flat=True)) == ["task"]
    assert TaskDependency.objects.count() == 0


def test_task_complete_marks_the_task_done_now(user, gql):
    task = TaskFactory(owner=user)

    done = gql.data(COMPLETE, {"id": tid(task)})["taskComplete"]

    task.refresh_from_db()
    assert task.completed_at is not None
    assert done == {
        "task": {"status": "DONE", "completedAt": task.completed_at.isoformat()},
        "errors": [],
    }


def test_completing_a_done_task_keeps_its_completion_time(user, gql):
    task = DoneTaskFactory(owner=user)

    again = gql.data(COMPLETE, {"id": tid(task)})["taskComplete"]

    assert again == {
        "task": {"status": "DONE", "completedAt": task.completed_at.isoformat()},
        "errors": [],
    }


def test_task_reopen_clears_the_completion(user, gql):
    task = DoneTaskFactory(owner=user)

    reopened = gql.data(REOPEN, {"id": tid(task)})["taskReopen"]

    assert reopened == {"task": {"status": "OPEN", "completedAt": None}, "errors": []}
    task.refresh_from_db()
    assert (task.status, task.completed_at) == ("OPEN", None)


def test_task_query_returns_own_task_with_its_edges(user, gql):
    pre = TaskFactory(owner=user, title="pre")
    task = TaskFactory(owner=user, title="task")
    TaskDependency.objects.create(task=task, pre_task=pre)
    assert gql.data(GET, {"id": tid(task)}) == {
        "task": {"title": "task", "preTasks": [{"title": "pre"}], "dependents": []}
    }
    assert gql.data(GET, {"id": tid(pre)}) == {
        "task": {"title": "pre", "preTasks": [], "dependents": [{"title": "task"}]}
    }


@pytest.mark.parametrize(
    "node_id", [global_id("Task", 424242), global_id("User", 1)], ids=["missing", "wrong-type"]
)
def test_task_query_gives_null_for_missing_and_wrong_type_ids(gql, node_id):
    assert gql.data(GET, {"id": node_id}) == {"task": None}


def test_task_query_with_a_malformed_id_answers_like_a_missing_task(gql):
    assert gql.data(GET, {"id": "not-a-global-id"}) == {"task": None}


def test_done_tasks_show_their_completion_time(user, gql):
    task = DoneTaskFactory(owner=user)
    data = gql.data("query G($id: ID!) { task(id: $id) { status completedAt } }", {"id": tid(task)})
    assert data["task"]["status"] == "DONE"
    assert data["task"]["completedAt"] == task.completed_at.isoformat()
