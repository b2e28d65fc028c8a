"""End to end against real processes: a private redis-server (killed and wiped at will), a
`manage.py rundramatiq` worker process (SIGKILLed at will), PostgreSQL, and an SMTP server on
loopback that counts emails outside the worker. In every case each reminder is sent exactly
once or is visibly FAILED."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tasks import services
from tasks.models import Reminder, ReminderState
from tasks.reminders.dispatch import reminder_dispatch
from tasks.reminders.services import reminder_add
from tests.factories import TaskFactory, UserFactory
from tests.processes import run_at_once, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _processes(worker, redis_broker, inbox, smtp_email):
    """Every test here talks to the worker process through the private Redis."""


def states() -> dict[str, int]:
    counts: dict[str, int] = {}
    for state in Reminder.objects.values_list("state", flat=True):
        counts[state] = counts.get(state, 0) + 1
    return counts


def all_in(state: str, count: int) -> bool:
    return Reminder.objects.filter(state=state).count() == count


def test_a_reminder_due_in_two_seconds_is_sent_within_a_second_of_its_time(inbox):
    task = TaskFactory(owner=UserFactory())
    remind_at = timezone.now() + timedelta(seconds=2)
    reminder = reminder_add(user=task.owner, task_id=task.pk, at=remind_at)

    assert wait_until(lambda: len(inbox.received) == 1, 5)

    lateness = inbox.received[0].at - remind_at.timestamp()
    assert 0 <= lateness < 1.0, lateness
    assert wait_until(lambda: all_in(ReminderState.SENT, 1), 1)
    assert inbox.reminder_ids() == [reminder.pk]


def test_rescheduled_completed_and_deleted_tasks_leave_their_old_messages_without_effect(inbox):
    owner = UserFactory()
    soon = timezone.now() + timedelta(seconds=1.5)
    moved, done, gone = (
        services.task_create(owner=owner, title=title, scheduled_at=soon)
        for title in ("moved", "done", "gone")
    )
    later = timezone.now() + timedelta(seconds=3)
    services.task_update(task=moved, scheduled_at=later)
    services.task_complete(task=done)
    gone_reminder = Reminder.objects.get(task=gone).pk
    services.task_delete(task=gone)

    assert wait_until(lambda: len(inbox.received) >= 1, 5)
    time.sleep(0.5)  # the old wake-ups (at `soon`) have long fired: nothing else arrives

    [received] = inbox.received
    assert received.reminder_id == Reminder.objects.get(task=moved).pk
    assert received.at >= later.timestamp()
    assert Reminder.objects.get(task=done).state == ReminderState.CANCELLED
    assert not Reminder.objects.filter(pk=gone_reminder).exists()


def test_a_worker_killed_mid_flight_loses_and_doubles_nothing(
    settings, worker, redis_server, inbox
):
    """A kill outside the duplicate window: with one sender thread (one SMTP connection) the
    worker spends nearly all its time waiting on slow RCPT replies, and that is where it dies.
    (The window itself, between the server's acceptance and the SENT mark, is measured by
    bench/chaos.py over many kills at random moments.)"""
    settings.REMINDER_STALE_SENDING_SECONDS = 1
    default_env = worker.env
    worker.stop()
    worker.env = {**default_env, "REMINDER_SEND_THREADS": "1"}
    worker.start(redis_server.url)
    try:
        owner = UserFactory()
        inbox.rcpt_delay = 0.05  # ~2 s to send them all, one after the other
        moment = timezone.now() + timedelta(seconds=2)
        for n in range(40):
            task = TaskFactory(owner=owner, title=f"T{n}")
            reminder_add(user=owner, task_id=task.pk, at=moment)

        assert wait_until(lambda: len(inbox.received) >= 5, 10)
        time.sleep(0.025)  # the next email's RCPT reply is still 25 ms away
        worker.kill()
        killed_after = len(inbox.received)
        assert killed_after < 40
        inbox.rcpt_delay = 0
        worker.start(redis_server.url)

        # The dispatcher (every minute in production) finds the claimed rows stale and
        # re-queues them; Dramatiq's own redelivery of the dead worker's message plays no part.
        time.sleep(1.1)
        with_retry = reminder_dispatch()
        assert with_retry == 40 - killed_after

        assert wait_until(lambda: all_in(ReminderState.SENT, 40), 10), states()
        assert inbox.reminder_ids() == sorted(Reminder.objects.values_list("pk", flat=True))
    finally:
        worker.stop()
        worker.env = default_env
        worker.start(redis_server.url)


def test_redis_restarted_empty_with_reminders_queued_loses_nothing(
    settings, redis_server, worker, inbox
):
    settings.REMINDER_LOST_AFTER_SECONDS = 1
    owner = UserFactory()
    moment = timezone.now() + timedelta(seconds=1.5)
    # A running worker fetches delayed wake-ups into its memory at once, and whether it keeps
    # them through the restart depends on whether its next Redis call lands while Redis is
    # down: stopped, it fetches none, so every wake-up is in Redis when Redis is wiped.
    with worker.paused():
        for n in range(20):
            reminder_add(user=owner, task_id=TaskFactory(owner=owner, title=f"T{n}").pk, at=moment)
        assert all_in(ReminderState.QUEUED, 20)

        redis_server.restart_empty()
    time.sleep(2.7)  # due, and lost for longer than REMINDER_LOST_AFTER_SECONDS
    lost = Reminder.objects.filter(state=ReminderState.QUEUED).count()
    assert lost == 20

    assert reminder_dispatch() == lost
    assert wait_until(lambda: all_in(ReminderState.SENT, 20), 10), states()
    assert inbox.reminder_ids() == sorted(Reminder.objects.values_list("pk", flat=True))


def test_two_dispatcher_runs_at_once_send_each_reminder_once(inbox):
    owner = UserFactory()
    moment = timezone.now() + timedelta(seconds=0.5)
    # 30 tasks due at once (one task holds one reminder per moment).
    Reminder.objects.bulk_create(
        Reminder(task=TaskFactory(owner=owner), remind_at=moment, due_at=moment) for _ in range(30)
    )
    woken = run_at_once(reminder_dispatch)

    assert sum(woken) == 30
    assert wait_until(lambda: all_in(ReminderState.SENT, 30), 10), states()
    assert inbox.reminder_ids() == sorted(Reminder.objects.values_list("pk", flat=True))


def test_a_provider_failing_twice_then_succeeding_and_a_refused_recipient(inbox):
    busy = TaskFactory(owner=UserFactory(email="busy@example.com"))
    refused = TaskFactory(owner=UserFactory(email="refused@example.com"))
    inbox.transient["busy@example.com"] = 2
    moment = timezone.now() + timedelta(seconds=0.3)
    busy_reminder = reminder_add(user=busy.owner, task_id=busy.pk, at=moment)
    refused_reminder = reminder_add(user=refused.owner, task_id=refused.pk, at=moment)

    # Retries back off 300 ms, then 600 ms (REMINDER_RETRY_BACKOFF_MS=300 in the worker).
    assert wait_until(lambda: len(inbox.received) == 1, 5)
    assert wait_until(lambda: all_in(ReminderState.SENT, 1), 1)

    busy_reminder.refresh_from_db()
    refused_reminder.refresh_from_db()
    assert (busy_reminder.state, busy_reminder.attempts) == (ReminderState.SENT, 3)
    assert (refused_reminder.state, refused_reminder.attempts) == (ReminderState.FAILED, 1)
    assert refused_reminder.last_error.startswith("SMTPRecipientsRefused: {'refused@example.com'")
    assert inbox.reminder_ids() == [busy_reminder.pk]
