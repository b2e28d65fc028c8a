"""The sweeper each worker process runs: it sends what stayed unsent past its grace (the
broker lost its wake-up) and leaves the rest to the wake-ups."""

import pytest
from django.core import mail

from jobs.sweeper import sweep
from tasks.models import ReminderState
from tests.factories import DueReminderFactory, TaskFactory

pytestmark = pytest.mark.django_db


def test_a_sweep_sends_what_is_overdue_and_leaves_what_its_wake_up_will_take(user, settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.REMINDER_SWEEP_GRACE_SECONDS = 2
    mail.outbox = []
    task = TaskFactory(owner=user)
    overdue = DueReminderFactory(task=task, due_in=-3)
    just_due = DueReminderFactory(task=task, due_in=-1)

    assert sweep() == {"woken": 0, "sent": 1, "batches": 1}

    overdue.refresh_from_db()
    just_due.refresh_from_db()
    assert (overdue.state, just_due.state) == (ReminderState.SENT, ReminderState.QUEUED)
    assert [m.extra_headers["X-Taskgraph-Reminder"] for m in mail.outbox] == [str(overdue.pk)]


def test_a_sweep_takes_batch_after_batch(user, settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.REMINDER_BATCH_SIZE = 2
    mail.outbox = []
    task = TaskFactory(owner=user)
    for _ in range(5):
        DueReminderFactory(task=task, due_in=-10)

    assert sweep() == {"woken": 0, "sent": 5, "batches": 3}
