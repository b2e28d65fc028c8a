"""The delivering side in-process: claim, compose, send, record. The provider boundary is
Anymail's test backend, or Django's SMTP backend talking to a real SMTP server on loopback."""

import smtplib
import time
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from anymail.exceptions import AnymailAPIError, AnymailInvalidAddress, AnymailRecipientsRefused
from django.core import mail
from django.db import connection
from django.utils import timezone

from jobs.emails import reminder_email
from tasks.models import Reminder, ReminderState
from tasks.reminders import claims
from tasks.reminders.delivery import deliver_batch, is_permanent
from tests.factories import (
    DoneTaskFactory,
    DueReminderFactory,
    TaskDependencyFactory,
    TaskFactory,
    UserFactory,
)
from tests.graphql import global_id

pytestmark = pytest.mark.django_db


@pytest.fixture
def anymail_test(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.REMINDER_TASK_URL = "https://app.example.com/tasks/{id}"
    mail.outbox = []


def test_a_due_reminder_is_sent_in_the_owners_time_zone_with_its_open_pre_tasks(user, anymail_test):
    task = TaskFactory(
        owner=user,
        title="Paint the fence",
        description="Two coats.",
        scheduled_at=datetime(2030, 5, 1, 7, 30, tzinfo=UTC),
    )
    TaskDependencyFactory(task=task, pre_task__owner=user, pre_task__title="Buy paint")
    TaskDependencyFactory(
        task=task, pre_task=DoneTaskFactory(owner=user, title="Borrow the ladder")
    )
    reminder = DueReminderFactory(task=task)

    assert deliver_batch(limit=10, compose=reminder_email) == {
        "claimed": 1,
        "sent": 1,
        "retrying": 0,
        "failed": 0,
        "released": 0,
    }

    [message] = mail.outbox
    when = "Wednesday 1 May 2030, 09:30 (Europe/Paris)"
    link = f"https://app.example.com/tasks/{quote(global_id('Task', task.pk), safe='')}"
    assert message.to == ["alice@example.com"]
    assert message.subject == f"Reminder: Paint the fence ({when})"
    assert message.body == (
        "Reminder: Paint the fence\n"
        f"Scheduled for {when}\n\n"
        "Two coats.\n\n"
        "Still open before this one:\n"
        "- Buy paint\n\n"
        f"Open the task: {link}\n"
    )
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert "<h1>Paint the fence</h1>" in html
    assert f"<strong>{when}</strong>" in html
    assert "<li>Buy paint</li>" in html
    assert "Borrow the ladder" not in html
    assert f'<a href="{link}">' in html
    reminder.refresh_from_db()
    assert reminder.state == ReminderState.SENT
    assert reminder.attempts == 1
    assert reminder.sent_at is not None
    assert (reminder.message_id, reminder.delivery_status) == ("0", "sent")


@pytest.mark.parametrize(
    "scheduled_at,when",
    [
        (datetime(9999, 12, 31, 23, 30, tzinfo=UTC), "Friday 31 December 9999, 23:30 (UTC)"),
        (datetime(2030, 5, 1, 7, 30, tzinfo=UTC), "Wednesday 1 May 2030, 09:30 (Europe/Paris)"),
    ],
    ids=["no-local-date", "local"],
)
def test_a_moment_with_no_local_date_is_shown_in_utc_not_a_failed_reminder(
    user, anymail_test, scheduled_at, when
):
    # 9999-12-31T23:30Z is in year 10000 in Paris: astimezone raised OverflowError, and the
    # reminder failed with "date value out of range".
    task = TaskFactory(owner=user, title="Far", scheduled_at=scheduled_at)
    reminder = DueReminderFactory(task=task)
    assert deliver_batch(limit=10, compose=reminder_email)["sent"] == 1
    assert [m.subject for m in mail.outbox] == [f"Reminder: Far ({when})"]
    reminder.refresh_from_db()
    assert (reminder.state, reminder.last_error) == (ReminderState.SENT, "")


def test_html_escapes_what_the_user_typed(anymail_test):
    task = TaskFactory(owner=UserFactory(), title="<script>x</script>")
    DueReminderFactory(task=task)
    deliver_batch(limit=10, compose=reminder_email)
    html = mail.outbox[0].alternatives[0][0]
    assert "<script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html


def test_reminders_not_yet_due_rescheduled_or_cancelled_are_not_claimed(user, anymail_test):
    task = TaskFactory(owner=user)
    DueReminderFactory(task=task, due_in=30)  # due in 30 s
    DueReminderFactory(task=task, state=ReminderState.CANCELLED)
    DueReminderFactory(task=task, state=ReminderState.SENT)
    DueReminderFactory(task=task, state=ReminderState.FAILED)
    assert deliver_batch(limit=10, compose=reminder_email)["claimed"] == 0
    assert mail.outbox == []


def test_a_claim_is_exclusive_and_bumps_the_version(user):
    reminder = DueReminderFactory(task=TaskFactory(owner=user))
    [claim] = claims.reminder_claim_due(limit=10)
    assert (claim.pk, claim.version, claim.attempts) == (reminder.pk, 2, 1)
    assert claims.reminder_claim_due(limit=10) == []
    reminder.refresh_from_db()
    assert reminder.state == ReminderState.SENDING


def test_a_worker_that_lost_its_claim_cannot_overwrite_the_newer_state(user):
    reminder = DueReminderFactory(task=TaskFactory(owner=user))
    [claim] = claims.reminder_claim_due(limit=10)
    Reminder.objects.filter(pk=reminder.pk).update(version=claim.version + 1, state="QUEUED")
    assert claims.reminder_mark_sent(sent=claims.Sent(claim, timezone.now())) is False
    reminder.refresh_from_db()
    assert reminder.state == ReminderState.QUEUED


def test_a_batch_claims_at_most_its_limit_oldest_first(user, anymail_test):
    task = TaskFactory(owner=user)
    newest = DueReminderFactory(task=task, due_in=-1)
    for seconds in (5, 3, 9):
        DueReminderFactory(task=task, due_in=-seconds)
    fanned_out = []
    counts = deliver_batch(
        limit=3, compose=reminder_email, on_full_batch=lambda: fanned_out.append(True)
    )
    assert counts["sent"] == 3
    assert fanned_out == [True]  # a full batch asks another worker thread to carry on
    assert list(Reminder.objects.filter(state="QUEUED")) == [newest]


def test_the_provider_failing_twice_then_succeeding_sends_once(settings, smtp_email, inbox):
    settings.REMINDER_RETRY_BACKOFF_MS = 50
    owner = UserFactory(email="busy@example.com")
    reminder = DueReminderFactory(task=TaskFactory(owner=owner))
    inbox.transient["busy@example.com"] = 2

    assert deliver_batch(limit=10, compose=reminder_email)["retrying"] == 1
    reminder.refresh_from_db()
    assert reminder.state == ReminderState.QUEUED
    assert reminder.last_error.startswith("SMTPRecipientsRefused: {'busy@example.com': (451,")
    assert reminder.due_at > timezone.now()

    assert deliver_batch(limit=10, compose=reminder_email)["claimed"] == 0  # backing off
    time.sleep(0.06)
    assert deliver_batch(limit=10, compose=reminder_email)["retrying"] == 1
    time.sleep(0.11)
    assert deliver_batch(limit=10, compose=reminder_email)["sent"] == 1

    reminder.refresh_from_db()
    assert (reminder.state, reminder.attempts, reminder.last_error) == ("SENT", 3, "")
    assert inbox.reminder_ids() == [reminder.pk]


def test_a_refused_recipient_fails_at_once_visibly(smtp_email, inbox, gql):
    owner = UserFactory(email="refused@example.com")
    task = TaskFactory(owner=owner)
    reminder = DueReminderFactory(task=task)

    assert deliver_batch(limit=10, compose=reminder_email)["failed"] == 1

    reminder.refresh_from_db()
    assert (reminder.state, reminder.attempts) == ("FAILED", 1)
    assert reminder.last_error == (
        "SMTPRecipientsRefused: {'refused@example.com': (550, b'5.1.1 No such user here')}"
    )
    assert inbox.received == []


def test_the_last_transient_failure_is_final(settings, smtp_email, inbox):
    settings.REMINDER_RETRY_BACKOFF_MS = 1
    settings.REMINDER_MAX_ATTEMPTS = 2
    owner = UserFactory(email="down@example.com")
    reminder = DueReminderFactory(task=TaskFactory(owner=owner))
    inbox.transient["down@example.com"] = 99
    deliver_batch(limit=10, compose=reminder_email)
    time.sleep(0.01)
    assert deliver_batch(limit=10, compose=reminder_email)["failed"] == 1
    reminder.refresh_from_db()
    assert (reminder.state, reminder.attempts) == ("FAILED", 2)
    assert "451" in reminder.last_error


def test_one_failure_does_not_hold_up_the_rest_of_the_batch(smtp_email, inbox):
    refused = DueReminderFactory(task=TaskFactory(owner=UserFactory(email="refused@example.com")))
    fine = DueReminderFactory(
        task=TaskFactory(owner=UserFactory(email="fine@example.com")), due_in=-0.5
    )
    assert deliver_batch(limit=10, compose=reminder_email) == {
        "claimed": 2,
        "sent": 1,
        "retrying": 0,
        "failed": 1,
        "released": 0,
    }
    assert inbox.reminder_ids() == [fine.pk]
    assert Reminder.objects.get(pk=refused.pk).state == "FAILED"


def test_a_failed_reminder_shows_its_last_error_in_the_api(user, gql):
    task = TaskFactory(owner=user)
    DueReminderFactory(
        task=task, state=ReminderState.FAILED, last_error="SMTPRecipientsRefused: nope"
    )
    data = gql.data(
        "query Q($id: ID!) { task(id: $id) { reminders { state lastError } } }",
        {"id": global_id("Task", task.pk)},
    )
    assert data["task"]["reminders"] == [
        {"state": "FAILED", "lastError": "SMTPRecipientsRefused: nope"}
    ]


def test_a_batch_that_runs_long_gives_the_rest_back_uncounted(settings, user, anymail_test):
    settings.REMINDER_CLAIM_HOLD_SECONDS = 0
    task = TaskFactory(owner=user)
    first = DueReminderFactory(task=task, due_in=-3)
    rest = [DueReminderFactory(task=task, due_in=-2), DueReminderFactory(task=task, due_in=-1)]

    counts = deliver_batch(limit=10, compose=reminder_email)

    assert (counts["sent"], counts["released"]) == (1, 2)
    assert Reminder.objects.get(pk=first.pk).state == ReminderState.SENT
    for reminder in rest:
        reminder.refresh_from_db()
        assert (reminder.state, reminder.attempts, reminder.version) == ("QUEUED", 0, 3)


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (AnymailRecipientsRefused("refused"), True),
        (AnymailInvalidAddress("bad address"), True),
        (AnymailAPIError("bad request", status_code=422), True),
        (AnymailAPIError("rate limited", status_code=429), False),
        (AnymailAPIError("server error", status_code=503), False),
        (smtplib.SMTPRecipientsRefused({"a@b.c": (550, b"no such user")}), True),
        (smtplib.SMTPRecipientsRefused({"a@b.c": (451, b"try later")}), False),
        (smtplib.SMTPDataError(554, b"rejected"), True),
        (smtplib.SMTPServerDisconnected("gone"), False),
        (TimeoutError("timed out"), False),
        (ConnectionRefusedError(), False),
    ],
)
def test_provider_errors_are_permanent_or_transient(error, permanent):
    assert is_permanent(error) is permanent


def test_a_batch_goes_out_on_one_smtp_connection(smtp_email, inbox):
    owner = UserFactory()
    due = [DueReminderFactory(task=TaskFactory(owner=owner), due_in=-n) for n in range(1, 6)]

    assert deliver_batch(limit=10, compose=reminder_email)["sent"] == 5

    assert inbox.reminder_ids() == sorted(r.pk for r in due)
    assert inbox.connections() == 1


def test_an_email_carries_a_message_id_naming_its_reminder_and_moment(smtp_email, inbox):
    """Stable across attempts: a copy sent twice after a crash has the first one's id."""
    reminder = DueReminderFactory(task=TaskFactory(owner=UserFactory()))
    at = int(reminder.remind_at.timestamp())

    deliver_batch(limit=10, compose=reminder_email)

    [received] = inbox.received
    assert received.message["Message-ID"] == f"<reminder.{reminder.pk}.{at}@taskgraph.localhost>"


def test_a_batch_loads_its_emails_in_fixed_queries_and_marks_each_once(
    user, anymail_test, django_assert_num_queries
):
    """Per batch: (on PostgreSQL, the session's synchronous_commit), the claim, the owners'
    email caps (two), the reminders with task and owner, their open pre-tasks, who listens for
    reminder.sent; then one UPDATE per email. Composing an email reads no deferred column."""
    session = 1 if connection.vendor == "postgresql" else 0
    for count in (1, 3):
        for n in range(count):
            task = TaskFactory(owner=user, title=f"T{n}", description="D", scheduled_at=None)
            TaskDependencyFactory(task=task, pre_task__owner=user, pre_task__title=f"P{n}")
            DueReminderFactory(task=task)
        mail.outbox = []
        with django_assert_num_queries(session + 6 + count):
            assert deliver_batch(limit=10, compose=reminder_email)["sent"] == count
        assert sorted((m.subject.split(" (")[0], m.body.count("- P")) for m in mail.outbox) == [
            (f"Reminder: T{n}", 1) for n in range(count)
        ]
