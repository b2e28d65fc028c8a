"""The periodic dispatcher: queues what comes within the horizon, re-queues what was lost."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from dramatiq import Message

from tasks.models import Reminder, ReminderState
from tasks.reminders.dispatch import reminder_dispatch
from tests.conftest import skip_or_fail
from tests.factories import ReminderFactory, TaskFactory
from tests.processes import run_at_once


def at(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def wake_ups(broker) -> int:
    return len(broker.queues["default.DQ"].queue) + len(broker.queues["default"].queue)


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    def run():
        with django_capture_on_commit_callbacks(execute=True):
            return reminder_dispatch()

    return run


@pytest.mark.django_db
def test_it_queues_pending_reminders_within_the_horizon_only(settings, stub_broker, run_on_commit):
    settings.REMINDER_HORIZON_SECONDS = 300
    near, far = ReminderFactory(due_in=120), ReminderFactory(due_in=3600)
    assert run_on_commit() == 1
    assert Reminder.objects.get(pk=near.pk).state == ReminderState.QUEUED
    assert Reminder.objects.get(pk=far.pk).state == ReminderState.PENDING
    assert wake_ups(stub_broker) == 1
    assert run_on_commit() == 0  # idempotent


@pytest.mark.django_db
def test_it_catches_up_on_reminders_whose_minute_was_missed(stub_broker, run_on_commit):
    missed = ReminderFactory(due_in=-600)
    assert run_on_commit() == 1
    assert Reminder.objects.get(pk=missed.pk).state == ReminderState.QUEUED
    [data] = stub_broker.queues["default"].queue  # due already: no delay
    assert Message.decode(data).actor_name == "deliver_due_reminders"


@pytest.mark.django_db
def test_it_requeues_queued_reminders_whose_message_was_lost(settings, stub_broker, run_on_commit):
    settings.REMINDER_LOST_AFTER_SECONDS = 15
    lost = ReminderFactory(due_in=-20, state=ReminderState.QUEUED, queued_at=at(-80))
    fresh = ReminderFactory(due_in=-5, state=ReminderState.QUEUED, queued_at=at(-60))
    upcoming = ReminderFactory(due_in=60, state=ReminderState.QUEUED, queued_at=at(-60))
    assert run_on_commit() == 1
    assert Reminder.objects.get(pk=lost.pk).queued_at > at(-1)
    assert Reminder.objects.get(pk=fresh.pk).queued_at < at(-59)
    assert Reminder.objects.get(pk=upcoming.pk).queued_at < at(-59)
    assert run_on_commit() == 0  # re-queued just now: not lost again yet


@pytest.mark.django_db
def test_it_requeues_reminders_a_dead_worker_left_sending(settings, stub_broker, run_on_commit):
    settings.REMINDER_STALE_SENDING_SECONDS = 45
    settings.REMINDER_MAX_ATTEMPTS = 3
    stalled = ReminderFactory(
        due_in=-100, state=ReminderState.SENDING, claimed_at=at(-50), attempts=1
    )
    busy = ReminderFactory(due_in=-10, state=ReminderState.SENDING, claimed_at=at(-5), attempts=1)
    exhausted = ReminderFactory(
        due_in=-100, state=ReminderState.SENDING, claimed_at=at(-50), attempts=3
    )
    assert run_on_commit() == 1
    stalled.refresh_from_db()
    assert (stalled.state, stalled.version) == (ReminderState.QUEUED, 2)
    assert stalled.last_error == "The worker stopped while sending."
    assert Reminder.objects.get(pk=busy.pk).state == ReminderState.SENDING
    exhausted.refresh_from_db()
    assert exhausted.state == ReminderState.FAILED
    assert exhausted.last_error == "The worker stopped while sending, at the last attempt."


@pytest.mark.django_db
def test_after_a_restart_every_queued_reminder_is_woken_again(
    stub_broker, django_capture_on_commit_callbacks
):
    ReminderFactory(due_in=30, state=ReminderState.QUEUED, queued_at=at(-1))
    ReminderFactory(due_in=-1, state=ReminderState.SENDING, claimed_at=at(-1), attempts=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert reminder_dispatch(restart=True) == 2
    assert wake_ups(stub_broker) == 2


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_queue_each_reminder_once(stub_broker):
    if connection.vendor != "postgresql":
        skip_or_fail("concurrent dispatchers need PostgreSQL: set DATABASE_URL")
    task = TaskFactory()
    Reminder.objects.bulk_create(
        Reminder(task=task, remind_at=at(i / 10), due_at=at(i / 10)) for i in range(300)
    )
    Reminder.objects.bulk_create(
        Reminder(task=task, remind_at=at(-30), due_at=at(-30), state="QUEUED", queued_at=at(-60))
        for _ in range(50)
    )
    woken = run_at_once(reminder_dispatch)
    assert sum(woken) == 350
    assert Reminder.objects.filter(state="QUEUED").count() == 350
