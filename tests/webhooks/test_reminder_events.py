"""reminder.sent, reminder.failed and reminder.delivery, recorded with the reminder's change."""

import pytest
from anymail.exceptions import AnymailRecipientsRefused
from django.core import mail

from jobs.emails import reminder_email
from tasks.reminders.delivery import deliver_batch
from tasks.reminders.tracking import reminder_delivery_update
from tests.factories import DueReminderFactory, TaskFactory
from tests.webhooks.conftest import run_queued
from webhooks import services
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(user, receiver):
    created = services.webhook_create(
        user=user,
        url=receiver.url,
        events=["reminder.sent", "reminder.failed", "reminder.delivery"],
    )
    receiver.secret = created.secret
    return created.endpoint


def test_sent_then_delivered(
    user, endpoint, receiver, stub_broker, django_capture_on_commit_callbacks, settings
):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    mail.outbox = []
    reminder = DueReminderFactory(task=TaskFactory(owner=user, title="Call"))
    with django_capture_on_commit_callbacks(execute=True):
        deliver_batch(limit=10, compose=reminder_email)
        [message] = mail.outbox
        message_id = str(message.anymail_status.message_id)
        reminder_delivery_update(message_id=message_id, status="delivered")
    run_queued(stub_broker)

    got = [
        (r.type, r.data["reminder"]["id"], r.data["reminder"]["state"]) for r in receiver.received
    ]
    assert sorted(got) == [
        ("reminder.delivery", reminder.pk, "SENT"),
        ("reminder.sent", reminder.pk, "SENT"),
    ]
    delivery = next(r for r in receiver.received if r.type == "reminder.delivery")
    assert delivery.data["reminder"]["delivery_status"] == "delivered"
    assert delivery.data["reminder"]["task_id"] == reminder.task_id
    assert all(r.verified for r in receiver.received)


def test_failed(user, endpoint, receiver, stub_broker, django_capture_on_commit_callbacks):
    reminder = DueReminderFactory(task=TaskFactory(owner=user, title="Call"))

    def refuse(reminder):
        raise AnymailRecipientsRefused("refused")

    with django_capture_on_commit_callbacks(execute=True):
        deliver_batch(limit=10, compose=refuse)
    run_queued(stub_broker)

    [got] = receiver.received
    assert got.type == "reminder.failed"
    assert got.data["reminder"]["id"] == reminder.pk
    assert got.data["reminder"]["state"] == "FAILED"
    assert got.data["reminder"]["last_error"].startswith("AnymailRecipientsRefused")
    assert WebhookEvent.objects.count() == 1
