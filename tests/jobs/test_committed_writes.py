"""A committed write is never reported as failed: with the broker down, mutations answer with
their payload, the rows are committed, and the dispatcher later wakes what the lost wake-ups
would have (docs/reminders.md). Real redis-server, stopped."""

import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from jobs.emails import reminder_email
from tasks.models import Reminder, ReminderState, Task
from tasks.reminders.delivery import deliver_batch
from tasks.reminders.dispatch import reminder_dispatch

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

CREATE = """
mutation C($input: TaskCreateInput!) {
  taskCreate(input: $input) { task { id title reminders { state } } errors { code } }
}
"""
UPDATE = """
mutation U($id: ID!, $input: TaskUpdateInput!) {
  taskUpdate(id: $id, input: $input) { task { title reminders { state } } errors { code } }
}
"""
DELETE = "mutation D($id: ID!) { taskDelete(id: $id) { deletedId errors { code } } }"
ADD = """
mutation A($taskId: ID!, $input: ReminderAddInput!) {
  reminderAdd(taskId: $taskId, input: $input) { reminder { state } errors { code } }
}
"""


@pytest.fixture
def redis_down(redis_broker, redis_server):
    """The web process's broker is the private Redis, and that Redis is stopped."""
    redis_server.stop()
    yield redis_server
    if redis_server.process is None:
        redis_server.start()


def test_mutations_answer_with_their_payload_while_redis_is_down(gql, redis_down, settings, caplog):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.REMINDER_LOST_AFTER_SECONDS = 0
    mail.outbox = []
    soon = timezone.now() + timedelta(seconds=1)

    created = gql(CREATE, {"input": {"title": "Water plants", "scheduledAt": soon.isoformat()}})
    kept = gql(CREATE, {"input": {"title": "Kept", "scheduledAt": soon.isoformat()}})
    gone = gql(CREATE, {"input": {"title": "Gone", "scheduledAt": soon.isoformat()}})
    task_id = created["data"]["taskCreate"]["task"]["id"]
    later = soon + timedelta(seconds=1)
    updated = gql(UPDATE, {"id": task_id, "input": {"scheduledAt": later.isoformat()}})
    extra = soon + timedelta(
        seconds=0.5
    )  # a moment of its own (same-moment duplicates are refused)
    added = gql(ADD, {"taskId": task_id, "input": {"at": extra.isoformat()}})
    deleted = gql(DELETE, {"id": gone["data"]["taskCreate"]["task"]["id"]})

    # Payloads, no GraphQL errors (the answers also carry their cost in "extensions").
    assert all("errors" not in answer for answer in (created, kept, gone, updated, added, deleted))
    assert created["data"] == {
        "taskCreate": {
            "task": {"id": task_id, "title": "Water plants", "reminders": [{"state": "QUEUED"}]},
            "errors": [],
        }
    }
    assert kept["data"]["taskCreate"]["errors"] == []
    assert updated["data"] == {
        "taskUpdate": {
            "task": {"title": "Water plants", "reminders": [{"state": "QUEUED"}]},
            "errors": [],
        }
    }
    assert added["data"] == {"reminderAdd": {"reminder": {"state": "QUEUED"}, "errors": []}}
    assert deleted["data"] == {
        "taskDelete": {"deletedId": gone["data"]["taskCreate"]["task"]["id"], "errors": []}
    }
    assert sorted(Task.objects.values_list("title", flat=True)) == ["Kept", "Water plants"]
    assert Reminder.objects.filter(state=ReminderState.QUEUED).count() == 3
    failures = [r for r in caplog.records if r.name == "jobs.wakeups"]
    assert failures and all(r.levelno == logging.WARNING for r in failures)

    # Redis back, the next dispatcher run wakes the lost reminders, a worker sends them.
    redis_down.start()
    while timezone.now() < later:
        pass
    assert reminder_dispatch() == 3
    assert deliver_batch(limit=10, compose=reminder_email)["sent"] == 3
    assert sorted(m.subject.split(" (")[0] for m in mail.outbox) == [
        "Reminder: Kept",
        "Reminder: Water plants",
        "Reminder: Water plants",
    ]
