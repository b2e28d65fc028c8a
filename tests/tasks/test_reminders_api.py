from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from dramatiq import Message

from tasks.models import Reminder, ReminderState
from tests.factories import DoneTaskFactory, ReminderFactory, TaskFactory
from tests.graphql import global_id

pytestmark = pytest.mark.django_db

FIELDS = "id remindAt minutesBefore state attempts sentAt deliveryStatus lastError"
CREATE = f"""
mutation C($input: TaskCreateInput!) {{
  taskCreate(input: $input) {{ task {{ id reminders {{ {FIELDS} }} }} errors {{ code }} }}
}}
"""
ADD = f"""
mutation A($taskId: ID!, $input: ReminderAddInput!) {{
  reminderAdd(taskId: $taskId, input: $input) {{
    reminder {{ {FIELDS} }}
    errors {{ field message code }}
  }}
}}
"""
DELETE = """
mutation D($id: ID!) { reminderDelete(id: $id) { deletedId errors { field message code } } }
"""
UPDATE = """
mutation U($id: ID!, $input: TaskUpdateInput!) {
  taskUpdate(id: $id, input: $input) { task { reminders { remindAt state } } errors { code } }
}
"""
COMPLETE = "mutation C($id: ID!) { taskComplete(id: $id) { task { reminders { state } } } }"
TASKS = "{ tasks { edges { node { title reminders { remindAt state } } } } }"

SCHEDULED = datetime(2030, 5, 1, 7, 30, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def wake_ups(broker) -> list[int]:
    """The moments (epoch ms) of the queued wake-up messages."""
    queue = broker.queues["default.DQ"].queue
    return sorted(Message.decode(data).options["eta"] for data in queue)


def test_a_scheduled_task_gets_a_reminder_at_its_time(gql):
    data = gql.data(CREATE, {"input": {"title": "Dentist", "scheduledAt": iso(SCHEDULED)}})
    [reminder] = data["taskCreate"]["task"]["reminders"]
    assert reminder == {
        "id": reminder["id"],
        "remindAt": "2030-05-01T07:30:00+00:00",
        "minutesBefore": 0,
        "state": "PENDING",
        "attempts": 0,
        "sentAt": None,
        "deliveryStatus": "",
        "lastError": "",
    }


def test_an_unscheduled_task_gets_no_reminder(gql):
    data = gql.data(CREATE, {"input": {"title": "Someday"}})
    assert data["taskCreate"]["task"]["reminders"] == []


def test_reminder_add_at_an_absolute_time(user, gql):
    task = TaskFactory(owner=user)
    data = gql.data(
        ADD, {"taskId": global_id("Task", task.pk), "input": {"at": "2030-01-02T10:00:00+01:00"}}
    )
    payload = data["reminderAdd"]
    assert payload["errors"] == []
    assert payload["reminder"]["remindAt"] == "2030-01-02T09:00:00+00:00"
    assert payload["reminder"]["minutesBefore"] is None
    assert payload["reminder"]["state"] == "PENDING"


def test_reminder_add_minutes_before_the_scheduled_time(user, gql):
    task = TaskFactory(owner=user, scheduled_at=SCHEDULED)
    data = gql.data(ADD, {"taskId": global_id("Task", task.pk), "input": {"minutesBefore": 90}})
    assert data["reminderAdd"]["reminder"]["remindAt"] == "2030-05-01T06:00:00+00:00"
    assert data["reminderAdd"]["reminder"]["minutesBefore"] == 90


def test_a_reminder_in_the_past_is_refused(user, gql):
    task = TaskFactory(owner=user)
    data = gql.data(
        ADD, {"taskId": global_id("Task", task.pk), "input": {"at": "2020-01-01T00:00:00+00:00"}}
    )
    [error] = data["reminderAdd"]["errors"]
    assert error["field"] == "at"
    assert error["code"] == "in_past"
    assert error["message"].startswith(
        "Reminder time must be in the future (it is 2020-01-01T00:00:00+00:00, now is "
    )
    assert not Reminder.objects.exists()


def test_minutes_before_that_falls_in_the_past_is_refused(user, gql):
    task = TaskFactory(owner=user, scheduled_at=timezone.now() + timedelta(minutes=30))
    data = gql.data(ADD, {"taskId": global_id("Task", task.pk), "input": {"minutesBefore": 60}})
    [error] = data["reminderAdd"]["errors"]
    assert (error["field"], error["code"]) == ("minutesBefore", "in_past")


def test_minutes_before_a_task_scheduled_in_year_1_is_refused_not_a_crash(user, gql):
    # 0001-01-01T00:05Z minus 10 minutes is before the first moment Python can hold.
    task = TaskFactory(owner=user, scheduled_at=datetime(1, 1, 1, 0, 5, tzinfo=UTC))
    data = gql.data(ADD, {"taskId": global_id("Task", task.pk), "input": {"minutesBefore": 10}})
    [error] = data["reminderAdd"]["errors"]
    now = error["message"].rpartition("now is ")[2].rstrip(").")
    assert timezone.now() - datetime.fromisoformat(now) < timedelta(seconds=5)
    assert error == {
        "field": "minutesBefore",
        "message": f"Reminder time must be in the future (it would be before year 1, now is {now}).",
        "code": "in_past",
    }
    assert not Reminder.objects.exists()


def test_moving_a_task_to_year_1_cancels_its_relative_reminders(user, gql):
    task = TaskFactory(owner=user, scheduled_at=SCHEDULED)
    tid = global_id("Task", task.pk)
    gql.data(ADD, {"taskId": tid, "input": {"minutesBefore": 10}})
    data = gql.data(UPDATE, {"id": tid, "input": {"scheduledAt": "0001-01-01T00:05:00Z"}})
    assert data["taskUpdate"] == {
        "task": {"reminders": [{"remindAt": "2030-05-01T07:20:00+00:00", "state": "CANCELLED"}]},
        "errors": [],
    }


def test_minutes_before_needs_a_scheduled_task(user, gql):
    task = TaskFactory(owner=user)
    data = gql.data(ADD, {"taskId": global_id("Task", task.pk), "input": {"minutesBefore": 5}})
    assert data["reminderAdd"]["errors"] == [
        {
            "field": "minutesBefore",
            "message": "The task has no scheduled time to count back from.",
            "code": "unscheduled",
        }
    ]


def test_reminder_add_needs_exactly_one_of_at_and_minutes_before(user, gql):
    task = TaskFactory(owner=user, scheduled_at=SCHEDULED)
    body = gql(
        ADD,
        {
            "taskId": global_id("Task", task.pk),
            "input": {"at": "2030-01-01T00:00:00+00:00", "minutesBefore": 5},
        },
    )
    assert body["errors"][0]["message"] == (
        "OneOf Input Object 'ReminderAddInput' must specify exactly one key."
    )
    assert not Reminder.objects.exists()


def test_a_done_task_takes_no_reminder(user, gql):
    task = DoneTaskFactory(owner=user)
    data = gql.data(
        ADD, {"taskId": global_id("Task", task.pk), "input": {"at": "2030-01-01T00:00:00+00:00"}}
    )
    assert data["reminderAdd"]["errors"] == [
        {"field": "taskId", "message": "The task is done: it needs no reminder.", "code": "done"}
    ]


def test_another_users_task_and_reminders_do_not_exist(other_user, gql):
    task = TaskFactory(owner=other_user, scheduled_at=SCHEDULED)
    reminder = ReminderFactory(task=task, remind_at=SCHEDULED)
    data = gql.data(ADD, {"taskId": global_id("Task", task.pk), "input": {"minutesBefore": 5}})
    assert data["reminderAdd"]["errors"] == [
        {"field": "taskId", "message": "Task not found.", "code": "not_found"}
    ]
    data = gql.data(DELETE, {"id": global_id("Reminder", reminder.pk)})
    assert data["reminderDelete"]["errors"] == [
        {"field": "id", "message": "Reminder not found.", "code": "not_found"}
    ]
    assert Reminder.objects.filter(pk=reminder.pk).exists()


def test_reminder_delete_removes_it(user, gql):
    task = TaskFactory(owner=user)
    reminder = ReminderFactory(task=task, remind_at=SCHEDULED)
    rid = global_id("Reminder", reminder.pk)
    data = gql.data(DELETE, {"id": rid})
    assert data["reminderDelete"] == {"deletedId": rid, "errors": []}
    assert not Reminder.objects.exists()


def test_rescheduling_moves_relative_reminders_and_keeps_absolute_ones(user, gql):
    task = TaskFactory(owner=user, scheduled_at=SCHEDULED)
    tid = global_id("Task", task.pk)
    gql.data(ADD, {"taskId": tid, "input": {"minutesBefore": 0}})
    gql.data(ADD, {"taskId": tid, "input": {"minutesBefore": 30}})
    gql.data(ADD, {"taskId": tid, "input": {"at": "2030-04-30T12:00:00+00:00"}})
    versions = dict(Reminder.objects.values_list("remind_at", "version"))

    data = gql.data(UPDATE, {"id": tid, "input": {"scheduledAt": "2030-05-02T07:30:00+00:00"}})

    assert data["taskUpdate"]["task"]["reminders"] == [
        {"remindAt": "2030-04-30T12:00:00+00:00", "state": "PENDING"},
        {"remindAt": "2030-05-02T07:00:00+00:00", "state": "PENDING"},
        {"remindAt": "2030-05-02T07:30:00+00:00", "state": "PENDING"},
    ]
    moved = Reminder.objects.filter(minutes_before__isnull=False)
    assert all(r.version == 2 and r.due_at == r.remind_at for r in moved)
    assert (
        Reminder.objects.get(minutes_before=None).version
        == versions[datetime(2030, 4, 30, 12, tzinfo=UTC)]
    )


def test_unscheduling_cancels_relative_reminders(user, gql):
    task = TaskFactory(owner=user, scheduled_at=SCHEDULED)
    gql.data(ADD, {"taskId": global_id("Task", task.pk), "input": {"minutesBefore": 10}})
    data = gql.data(UPDATE, {"id": global_id("Task", task.pk), "input": {"scheduledAt": None}})
    assert data["taskUpdate"]["task"]["reminders"] == [
        {"remindAt": "2030-05-01T07:20:00+00:00", "state": "CANCELLED"}
    ]


def test_completing_a_task_cancels_its_unsent_reminders(user, gql):
    task = TaskFactory(owner=user, scheduled_at=SCHEDULED)
    ReminderFactory(task=task, remind_at=SCHEDULED - timedelta(hours=1), state=ReminderState.SENT)
    ReminderFactory(task=task, remind_at=SCHEDULED)
    data = gql.data(COMPLETE, {"id": global_id("Task", task.pk)})
    assert data["taskComplete"]["task"]["reminders"] == [
        {"state": "SENT"},
        {"state": "CANCELLED"},
    ]


def test_a_near_reminder_is_queued_with_a_wake_up_after_commit(
    user, gql, stub_broker, django_capture_on_commit_callbacks
):
    soon = (timezone.now() + timedelta(seconds=60)).replace(microsecond=0)
    later = datetime(2030, 1, 1, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        gql.data(CREATE, {"input": {"title": "Call", "scheduledAt": iso(soon)}})
        gql.data(CREATE, {"input": {"title": "Later", "scheduledAt": iso(later)}})
    assert wake_ups(stub_broker) == []  # nothing is sent before the commit
    for callback in callbacks:
        callback()
    [eta] = wake_ups(stub_broker)
    assert abs(eta - soon.timestamp() * 1000) <= 5  # eta = now + delay, read a moment apart
    assert dict(Reminder.objects.values_list("task__title", "state")) == {
        "Call": "QUEUED",
        "Later": "PENDING",
    }


def test_reminders_of_a_task_list_cost_one_query(user, gql, django_assert_num_queries):
    for n in range(5):
        task = TaskFactory(owner=user, title=f"T{n}", scheduled_at=SCHEDULED)
        ReminderFactory(task=task, remind_at=SCHEDULED)
    # session, user, tasks, reminders (edges only: no totalCount asked)
    with django_assert_num_queries(4):
        data = gql.data(TASKS)
    assert [len(e["node"]["reminders"]) for e in data["tasks"]["edges"]] == [1] * 5


def test_rescheduling_a_done_task_does_not_re_arm_its_sent_reminder(user, gql):
    task = DoneTaskFactory(owner=user, scheduled_at=SCHEDULED)
    ReminderFactory(task=task, remind_at=SCHEDULED, minutes_before=0, state="SENT")
    data = gql.data(
        UPDATE, {"id": global_id("Task", task.pk), "input": {"scheduledAt": "2030-06-01T00:00Z"}}
    )
    assert data["taskUpdate"]["task"]["reminders"] == [
        {"remindAt": "2030-05-01T07:30:00+00:00", "state": "SENT"}
    ]


def test_rescheduling_re_arms_a_sent_relative_reminder_for_the_new_time(user, gql):
    task = TaskFactory(owner=user, scheduled_at=SCHEDULED)
    ReminderFactory(task=task, remind_at=SCHEDULED, minutes_before=0, state="SENT")
    data = gql.data(
        UPDATE, {"id": global_id("Task", task.pk), "input": {"scheduledAt": "2030-06-01T00:00Z"}}
    )
    assert data["taskUpdate"]["task"]["reminders"] == [
        {"remindAt": "2030-06-01T00:00:00+00:00", "state": "PENDING"}
    ]
