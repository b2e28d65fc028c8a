"""Anymail tracking webhooks update the delivery status of reminders."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone

from tasks.models import Reminder, ReminderState
from tests.factories import TaskFactory
from tests.processes import ROOT

URL = "/anymail/postmark/tracking/"
# What every process (web, worker, scheduler) does first: load the settings.
LOAD_SETTINGS = [sys.executable, "-c", "import core.settings"]


@pytest.fixture
def webhook_secret(settings):
    settings.EMAIL_PROVIDER = "postmark"
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret"}
    return "Basic " + base64.b64encode(b"hook:s3cret").decode()


def sent_reminder(message_id: str, delivery_status: str = "sent") -> Reminder:
    now = timezone.now()
    return Reminder.objects.create(
        task=TaskFactory(),
        remind_at=now,
        due_at=now,
        state=ReminderState.SENT,
        sent_at=now,
        message_id=message_id,
        delivery_status=delivery_status,
    )


STAMPS = {"Delivery": "DeliveredAt", "Bounce": "BouncedAt", "Open": "ReceivedAt"}


def post_event(client, auth: str, record_type: str, message_id: str, at=None, **extra):
    event = {
        "RecordType": record_type,
        "MessageID": message_id,
        "Recipient": "alice@example.com",
        STAMPS[record_type]: (at or timezone.now()).isoformat(),
        **extra,
    }
    return client.post(URL, data=event, content_type="application/json", HTTP_AUTHORIZATION=auth)


def status(reminder: Reminder) -> str:
    return Reminder.objects.get(pk=reminder.pk).delivery_status


@pytest.mark.django_db
def test_a_delivery_event_updates_the_reminder_it_names(client, webhook_secret):
    reminder = sent_reminder("pm-1")
    other = sent_reminder("pm-2")
    response = post_event(client, webhook_secret, "Delivery", "pm-1")
    assert response.status_code == 200
    assert status(reminder) == "delivered"
    assert status(other) == "sent"


@pytest.mark.django_db
def test_a_late_delivery_event_does_not_hide_an_open(client, webhook_secret):
    reminder = sent_reminder("pm-1", delivery_status="opened")
    post_event(client, webhook_secret, "Delivery", "pm-1")
    assert status(reminder) == "opened"
    post_event(client, webhook_secret, "Bounce", "pm-1", Type="HardBounce", Email="a@b.c", ID=7)
    assert status(reminder) == "bounced"


@pytest.mark.django_db
def test_an_event_without_the_shared_secret_is_refused(client, webhook_secret):
    reminder = sent_reminder("pm-1")
    wrong = "Basic " + base64.b64encode(b"hook:guess").decode()
    assert post_event(client, wrong, "Delivery", "pm-1").status_code == 400
    assert status(reminder) == "sent"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "at", [timedelta(hours=-6, seconds=-1), timedelta(days=-2500), timedelta(minutes=6)]
)
def test_old_and_future_events_are_acknowledged_and_ignored(client, webhook_secret, at):
    reminder = sent_reminder("pm-1")
    response = post_event(client, webhook_secret, "Delivery", "pm-1", at=timezone.now() + at)
    assert response.status_code == 200
    assert status(reminder) == "sent"


@pytest.mark.django_db
def test_a_replayed_event_is_ignored(client, webhook_secret):
    reminder = sent_reminder("pm-1")
    at = timezone.now()
    post_event(client, webhook_secret, "Bounce", "pm-1", at=at, Type="SoftBounce", ID=41)
    assert status(reminder) == "bounced"
    Reminder.objects.filter(pk=reminder.pk).update(delivery_status="sent")
    assert (
        post_event(
            client, webhook_secret, "Bounce", "pm-1", at=at, Type="SoftBounce", ID=41
        ).status_code
        == 200
    )
    assert status(reminder) == "sent"


UNCONFIGURED = [
    "postal",
    "mandrill",
    "amazon_ses",
    "sendgrid",
    "mailgun",
    "mailjet",
    "sparkpost",
    "brevo",
    "sendinblue",
    "resend",
    "mailersend",
    "mailtrap",
    "unisender_go",
    "nosuchesp",
]


@pytest.mark.django_db
@pytest.mark.parametrize("esp", UNCONFIGURED)
def test_only_the_configured_providers_webhook_exists(client, webhook_secret, esp):
    response = client.post(
        f"/anymail/{esp}/tracking/",
        data="{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=webhook_secret,
    )
    assert response.status_code == 404
    assert (
        client.post(
            "/anymail/postmark/inbound/",
            data="{}",
            content_type="application/json",
            HTTP_AUTHORIZATION=webhook_secret,
        ).status_code
        == 404
    )


@pytest.mark.django_db
def test_a_signing_providers_webhook_does_not_exist_without_its_key(client, settings):
    settings.EMAIL_PROVIDER = "mailgun"
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret"}
    assert (
        client.post(
            "/anymail/mailgun/tracking/", data="{}", content_type="application/json"
        ).status_code
        == 404
    )


MAILGUN_KEY = "mailgun-signing-key"


@pytest.fixture
def mailgun(settings):
    settings.EMAIL_PROVIDER = "mailgun"
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret", "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}
    return "Basic " + base64.b64encode(b"hook:s3cret").decode()


def mailgun_event(message_id: str, event: str, at, *, key: str = MAILGUN_KEY, token: str = "t-1"):
    stamp = str(int(at.timestamp()))
    signature = hmac.new(key.encode(), f"{stamp}{token}".encode(), hashlib.sha256).hexdigest()
    return json.dumps(
        {
            "signature": {"timestamp": stamp, "token": token, "signature": signature},
            "event-data": {
                "event": event,
                "timestamp": at.timestamp(),
                "id": token,
                "recipient": "alice@example.com",
                "message": {"headers": {"message-id": message_id}},
            },
        }
    )


@pytest.mark.django_db
def test_mailgun_events_need_their_signature(client, mailgun):
    reminder = sent_reminder("<mg-1@example.com>")
    now = timezone.now()
    forged = mailgun_event("mg-1@example.com", "delivered", now, key="guess")
    response = client.post(
        "/anymail/mailgun/tracking/",
        forged,
        content_type="application/json",
        HTTP_AUTHORIZATION=mailgun,
    )
    assert response.status_code == 400
    assert status(reminder) == "sent"
    signed = mailgun_event("mg-1@example.com", "delivered", now)
    response = client.post(
        "/anymail/mailgun/tracking/",
        signed,
        content_type="application/json",
        HTTP_AUTHORIZATION=mailgun,
    )
    assert response.status_code == 200
    assert status(reminder) == "delivered"
    # The same signed request again (a replay) changes nothing.
    Reminder.objects.filter(pk=reminder.pk).update(delivery_status="sent")
    client.post(
        "/anymail/mailgun/tracking/",
        signed,
        content_type="application/json",
        HTTP_AUTHORIZATION=mailgun,
    )
    assert status(reminder) == "sent"


@pytest.mark.django_db
def test_a_correctly_signed_mailgun_event_from_2019_is_ignored(client, mailgun):
    reminder = sent_reminder("<mg-1@example.com>")
    old = mailgun_event(
        "mg-1@example.com", "complained", datetime(2019, 5, 1, tzinfo=UTC), token="t-2019"
    )
    response = client.post(
        "/anymail/mailgun/tracking/",
        old,
        content_type="application/json",
        HTTP_AUTHORIZATION=mailgun,
    )
    assert response.status_code == 200
    assert status(reminder) == "sent"


@pytest.fixture
def sendgrid(settings):
    private = ec.generate_private_key(ec.SECP256R1())
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    key = "".join(line for line in public.splitlines() if "PUBLIC KEY" not in line)
    settings.EMAIL_PROVIDER = "sendgrid"
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": "hook:s3cret",
        "SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": key,
    }
    return private, "Basic " + base64.b64encode(b"hook:s3cret").decode()


def sendgrid_post(client, auth, private, events, *, sign=True):
    body = json.dumps(events).encode()
    stamp = str(int(time.time()))
    signer = private if sign else ec.generate_private_key(ec.SECP256R1())
    signature = base64.b64encode(
        signer.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    ).decode()
    return client.post(
        "/anymail/sendgrid/tracking/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=auth,
        HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE=signature,
        HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP=stamp,
    )


@pytest.mark.django_db
def test_sendgrid_events_need_the_signed_event_webhook(client, sendgrid):
    private, auth = sendgrid
    reminder = sent_reminder("sg-1", delivery_status="delivered")

    def event(kind, n):
        return {
            "event": kind,
            "anymail_id": "sg-1",
            "email": "alice@example.com",
            "timestamp": int(time.time()),
            "sg_event_id": f"e-{n}",
        }

    # The report: basic auth alone moved delivered -> clicked -> complained.
    unsigned = client.post(
        "/anymail/sendgrid/tracking/",
        json.dumps([event("click", 1)]),
        content_type="application/json",
        HTTP_AUTHORIZATION=auth,
    )
    assert unsigned.status_code == 400
    assert sendgrid_post(client, auth, private, [event("click", 1)], sign=False).status_code == 400
    assert status(reminder) == "delivered"
    assert sendgrid_post(client, auth, private, [event("click", 1)]).status_code == 200
    assert status(reminder) == "clicked"
    # Forward only: a late "open" does not move it back.
    assert sendgrid_post(client, auth, private, [event("open", 2)]).status_code == 200
    assert status(reminder) == "clicked"


def assert_refused_until_set(env: dict, name: str, value: str, message: str) -> None:
    """Settings fail to load with `message` while `name` is unset, and load once it is set."""
    env.pop(name, None)
    result = subprocess.run(LOAD_SETTINGS, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert message in result.stderr
    env[name] = value
    result = subprocess.run(LOAD_SETTINGS, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_production_refuses_to_start_with_a_provider_and_no_webhook_secret():
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "x" * 60,
        "ALLOWED_HOSTS": "example.com",
        "EMAIL_PROVIDER": "postmark",
        "ANYMAIL_POSTMARK_SERVER_TOKEN": "token",
    }
    assert_refused_until_set(
        env,
        "ANYMAIL_WEBHOOK_SECRET",
        "hook:s3cret",
        "ANYMAIL_WEBHOOK_SECRET must be set when EMAIL_PROVIDER=postmark and DEBUG=0: without it "
        "the tracking webhook accepts forged delivery events.",
    )


def test_production_refuses_to_start_with_a_signing_provider_and_no_signing_key():
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "x" * 60,
        "ALLOWED_HOSTS": "example.com",
        "EMAIL_PROVIDER": "mailgun",
        "ANYMAIL_MAILGUN_API_KEY": "key",
        "ANYMAIL_WEBHOOK_SECRET": "hook:s3cret",
    }
    assert_refused_until_set(
        env,
        "ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY",
        "signing-key",
        "ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY must be set when EMAIL_PROVIDER=mailgun and DEBUG=0",
    )
