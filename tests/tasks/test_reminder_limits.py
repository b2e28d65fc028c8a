"""Reminders per task are bounded (a setting), and a task never has two live reminders at
the same moment: each would send the same email."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction

from tasks.models import Reminder, ReminderState
from tests.factories import ReminderFactory, TaskFactory
from tests.graphql import global_id

pytestmark = pytest.mark.django_db

ADD = """
mutation A($taskId: ID!, $input: ReminderAddInput!) {
  reminderAdd(taskId: $taskId, input: $input) {
    reminder { remindAt minutesBefore } errors { field message code }
  }
}
"""
UPDATE = """
mutation U($id: ID!, $input: TaskUpdateInput!) {
  taskUpdate(id: $id, input: $input) {
    task { reminders { remindAt minutesBefore state } } errors { code }
  }
}
"""
SCHEDULED = datetime(2030, 5, 1, 7, 30, tzinfo=UTC)


def add(gql, task, **input):
    return gql.data(ADD, {"taskId": global_id("Task", task.pk), "input": input})["reminderAdd"]


def test_two_reminders_a_minute_before_are_one_too_many(user, gql):
    task = TaskFactory(owner=user, scheduled_at=SCHEDULED)
    assert add(gql, task, minutesBefore=1)["errors"] == []
    assert add(gql, task, minutesBefore=1) == {
        "reminder": None,
        "errors": [
            {
                "field": "minutesBefore",
                "message": "The task already has a reminder at 2030-05-01T07:29:00+00:00.",
                "code": "duplicate",
            }
        ],
    }
    assert task.reminders.count() == 1


def test_an_absolute_time_equal_to_a_relative_one_is_a_duplicate_too(user, gql):
    task = TaskFactory(owner=user, scheduled_at=SCHEDULED)
    add(gql, task, minutesBefore=30)
    refused = add(gql, task, at="2030-05-01T09:00:00+02:00")  # 07:00 UTC
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("at", "duplicate")]


def test_a_cancelled_reminder_does_not_hold_its_moment(user, gql):
    task = TaskFactory(owner=user, scheduled_at=SCHEDULED)
    ReminderFactory(task=task, remind_at=SCHEDULED, state=ReminderState.CANCELLED)
    assert add(gql, task, minutesBefore=0)["errors"] == []


def test_the_database_refuses_a_second_live_reminder_at_a_moment(user):
    task = TaskFactory(owner=user)
    ReminderFactory(task=task, remind_at=SCHEDULED)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReminderFactory(task=task, remind_at=SCHEDULED)


def test_a_task_holds_at_most_the_set_number_of_reminders(user, gql, settings):
    settings.TASK_MAX_REMINDERS = 2
    task = TaskFactory(owner=user, scheduled_at=SCHEDULED)
    assert add(gql, task, minutesBefore=10)["errors"] == []
    assert add(gql, task, minutesBefore=20)["errors"] == []
    assert add(gql, task, minutesBefore=30) == {
        "reminder": None,
        "errors": [
            {
                "field": None,
                "message": "A task can have at most 2 reminders: delete one before adding another.",
                "code": "limit_reached",
            }
        ],
    }
    assert task.reminders.count() == 2


@pytest.mark.parametrize("shift", [timedelta(minutes=10), timedelta(minutes=-10)])
def test_relative_reminders_move_together_onto_each_others_moments(user, gql, shift):
    # 10 and 20 minutes before: moving by 10 minutes lands one where the other was.
    task = TaskFactory(owner=user, scheduled_at=SCHEDULED)
    for minutes in (10, 20, 30):
        ReminderFactory(
            task=task,
            remind_at=SCHEDULED - timedelta(minutes=minutes),
            minutes_before=minutes,
        )
    moved = SCHEDULED + shift
    data = gql.data(
        UPDATE, {"id": global_id("Task", task.pk), "input": {"scheduledAt": moved.isoformat()}}
    )
    assert data["taskUpdate"]["errors"] == []
    assert sorted(
        (r.minutes_before, r.remind_at, r.state) for r in Reminder.objects.filter(task=task)
    ) == [(m, moved - timedelta(minutes=m), ReminderState.PENDING) for m in (10, 20, 30)]


def test_a_relative_reminder_moved_onto_an_absolute_one_is_cancelled_not_doubled(user, gql):
    task = TaskFactory(owner=user, scheduled_at=SCHEDULED)
    ReminderFactory(task=task, remind_at=SCHEDULED - timedelta(minutes=10), minutes_before=10)
    absolute = ReminderFactory(task=task, remind_at=SCHEDULED, minutes_before=None)
    moved = SCHEDULED + timedelta(minutes=10)
    data = gql.data(
        UPDATE, {"id": global_id("Task", task.pk), "input": {"scheduledAt": moved.isoformat()}}
    )
    assert data["taskUpdate"]["errors"] == []
    assert sorted(
        (r.remind_at, r.minutes_before, r.state) for r in Reminder.objects.filter(task=task)
    ) == [
        (SCHEDULED - timedelta(minutes=10), 10, ReminderState.CANCELLED),
        (absolute.remind_at, None, ReminderState.PENDING),
    ]
