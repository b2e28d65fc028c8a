"""Idempotency keys against providers on loopback that honour them as Resend documents: a
reminder sent again after its first acceptance went unrecorded reaches the inbox once.

Resend's API (core.email.ResendBackend) takes the key in its Idempotency-Key HTTP header, on
the server of tests/providers.py; an SMTP relay (Resend's reads Resend-Idempotency-Key) takes
it in the message header EMAIL_IDEMPOTENCY_HEADER names, on the test suite's SMTP server."""

import json
import socket
import time

import pytest
import requests
from django.core.mail import get_connection

from jobs.emails import reminder_email
from tasks.models import Reminder, ReminderState
from tasks.reminders.delivery import deliver_batch
from tests.factories import DueReminderFactory, TaskFactory


def first_attempt_unrecorded(reminder: Reminder) -> None:
    """What a worker killed between the provider's acceptance and its SENT mark did: the
    email went out, nothing was written."""
    loaded = Reminder.objects.select_related("task__owner").get(pk=reminder.pk)
    assert get_connection(fail_silently=False).send_messages([reminder_email(loaded)]) == 1


def test_a_reminder_carries_a_key_for_its_moment(user, resend):
    reminder = DueReminderFactory(task=TaskFactory(owner=user))

    assert deliver_batch(limit=10, compose=reminder_email)["sent"] == 1

    key = f"reminder/{reminder.pk}/{int(reminder.remind_at.timestamp())}"
    assert list(resend.keys) == [key]
    [accepted] = resend.record.accepted
    reminder.refresh_from_db()
    assert (accepted.reminder_id, reminder.state) == (reminder.pk, ReminderState.SENT)
    assert reminder.message_id == resend.keys[key][1]["id"]


def test_sent_again_after_an_unrecorded_acceptance_it_arrives_once(user, resend):
    reminder = DueReminderFactory(task=TaskFactory(owner=user, title="Call"))
    first_attempt_unrecorded(reminder)

    assert deliver_batch(limit=10, compose=reminder_email)["sent"] == 1

    assert resend.record.reminder_ids() == [reminder.pk]
    assert resend.replayed == 1
    reminder.refresh_from_db()
    [(_, first_answer)] = resend.keys.values()
    assert (reminder.state, reminder.message_id) == (ReminderState.SENT, first_answer["id"])


def test_edited_since_the_unrecorded_acceptance_it_is_sent_not_retried(user, resend):
    """Same key, other body (the title changed): Resend answers 409 invalid_idempotent_request.
    The first copy went out, so the attempt is done: SENT, without a provider message id."""
    task = TaskFactory(owner=user, title="Call")
    reminder = DueReminderFactory(task=task)
    first_attempt_unrecorded(reminder)
    task.title = "Call the plumber"
    task.save(update_fields=["title"])

    counts = deliver_batch(limit=10, compose=reminder_email)

    assert (counts["sent"], counts["retrying"], counts["failed"]) == (1, 0, 0)
    assert resend.record.reminder_ids() == [reminder.pk]
    reminder.refresh_from_db()
    assert (reminder.state, reminder.message_id, reminder.delivery_status) == (
        ReminderState.SENT,
        "",
        "queued",
    )


def test_a_key_still_being_handled_is_retried_later(user, resend):
    reminder = DueReminderFactory(task=TaskFactory(owner=user))
    key = f"reminder/{reminder.pk}/{int(reminder.remind_at.timestamp())}"
    email = reminder_email(Reminder.objects.select_related("task__owner").get(pk=reminder.pk))
    resend.keys[key] = (b"another request, still running", None)

    counts = deliver_batch(limit=10, compose=reminder_email)

    assert counts["retrying"] == 1
    assert resend.record.accepted == []
    reminder.refresh_from_db()
    assert reminder.state == ReminderState.QUEUED
    assert reminder.last_error.startswith("AnymailRequestsAPIError")
    assert "concurrent_idempotent_requests" in reminder.last_error
    assert email.idempotency_key == key


def test_a_request_cut_short_by_a_dying_client_keeps_no_key(resend):
    """As with Resend: only a request received whole is handled, so the key of one a killed
    worker could not finish stays free for the retry."""
    with socket.create_connection(("127.0.0.1", resend.port)) as client:
        client.sendall(
            b"POST /emails HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + resend.token.encode()
            + b'\r\nIdempotency-Key: reminder/1/2\r\nContent-Length: 100\r\n\r\n{"to"'
        )
    time.sleep(0.2)  # the server has read what there was and given up on the rest
    response = requests.post(
        f"{resend.url}emails",
        data=json.dumps({"to": ["a@example.com"], "headers": {"X-Taskgraph-Reminder": "1"}}),
        headers={"Authorization": f"Bearer {resend.token}", "Idempotency-Key": "reminder/1/2"},
        timeout=5,
    )
    assert response.status_code == 200
    assert resend.record.reminder_ids() == [1]


SMTP_KEY_HEADER = "Resend-Idempotency-Key"


@pytest.fixture
def keyed_relay(settings, smtp_email, inbox):
    settings.EMAIL_IDEMPOTENCY_HEADER = SMTP_KEY_HEADER
    inbox.idempotency_header = SMTP_KEY_HEADER
    return inbox


def test_through_smtp_a_reminder_carries_its_key_in_the_named_header(user, keyed_relay):
    reminder = DueReminderFactory(task=TaskFactory(owner=user))

    assert deliver_batch(limit=10, compose=reminder_email)["sent"] == 1

    [received] = keyed_relay.received
    key = f"reminder/{reminder.pk}/{int(reminder.remind_at.timestamp())}"
    assert received.message.get_all(SMTP_KEY_HEADER) == [key]


def test_through_a_keyed_relay_sent_again_after_an_unrecorded_acceptance_it_arrives_once(
    user, keyed_relay
):
    reminder = DueReminderFactory(task=TaskFactory(owner=user))
    first_attempt_unrecorded(reminder)

    assert deliver_batch(limit=10, compose=reminder_email)["sent"] == 1

    assert (keyed_relay.reminder_ids(), keyed_relay.replayed) == ([reminder.pk], 1)
    reminder.refresh_from_db()
    assert reminder.state == ReminderState.SENT


def test_without_the_setting_no_key_header_and_a_relay_delivers_twice(user, smtp_email, inbox):
    """The window the key closes: without it the second attempt is a second email (with the
    first one's Message-ID, which is all a mail client has to drop it by)."""
    inbox.idempotency_header = SMTP_KEY_HEADER  # the relay would honour one
    reminder = DueReminderFactory(task=TaskFactory(owner=user))
    first_attempt_unrecorded(reminder)

    assert deliver_batch(limit=10, compose=reminder_email)["sent"] == 1

    assert inbox.reminder_ids() == [reminder.pk, reminder.pk]
    first, second = (received.message for received in inbox.received)
    assert (first[SMTP_KEY_HEADER], second[SMTP_KEY_HEADER]) == (None, None)
    assert first["Message-ID"] == second["Message-ID"]
