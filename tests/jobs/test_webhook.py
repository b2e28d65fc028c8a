"""Anymail tracking webhooks update the delivery status of reminders."""

import base64
import os
import subprocess
import sys

import pytest

from tasks.models import Reminder
from tests.factories import ReminderFactory
from tests.processes import ROOT

URL = "/anymail/postmark/tracking/"
# What every process (web, worker, scheduler) does first: load the settings.
LOAD_SETTINGS = [sys.executable, "-c", "import core.settings"]


@pytest.fixture
def webhook_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret"}
    return "Basic " + base64.b64encode(b"hook:s3cret").decode()


def post_event(client, auth: str, record_type: str, message_id: str, **extra):
    event = {
        "RecordType": record_type,
        "MessageID": message_id,
        "Recipient": "alice@example.com",
        **extra,
    }
    return client.post(URL, data=event, content_type="application/json", HTTP_AUTHORIZATION=auth)


@pytest.mark.django_db
def test_a_delivery_event_updates_the_reminder_it_names(client, webhook_secret):
    reminder = ReminderFactory(sent=True, message_id="pm-1")
    other = ReminderFactory(sent=True, message_id="pm-2")
    response = post_event(client, webhook_secret, "Delivery", "pm-1")
    assert response.status_code == 200
    assert Reminder.objects.get(pk=reminder.pk).delivery_status == "delivered"
    assert Reminder.objects.get(pk=other.pk).delivery_status == "sent"


@pytest.mark.django_db
def test_a_late_delivery_event_does_not_hide_an_open(client, webhook_secret):
    reminder = ReminderFactory(sent=True, message_id="pm-1", delivery_status="opened")
    post_event(client, webhook_secret, "Delivery", "pm-1")
    assert Reminder.objects.get(pk=reminder.pk).delivery_status == "opened"
    post_event(client, webhook_secret, "Bounce", "pm-1", Type="HardBounce", Email="a@b.c")
    assert Reminder.objects.get(pk=reminder.pk).delivery_status == "bounced"


@pytest.mark.django_db
def test_an_event_without_the_shared_secret_is_refused(client, webhook_secret):
    reminder = ReminderFactory(sent=True, message_id="pm-1")
    wrong = "Basic " + base64.b64encode(b"hook:guess").decode()
    assert post_event(client, wrong, "Delivery", "pm-1").status_code == 400
    assert Reminder.objects.get(pk=reminder.pk).delivery_status == "sent"


def test_production_refuses_to_start_with_a_provider_and_no_webhook_secret():
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "x" * 60,
        "ALLOWED_HOSTS": "example.com",
        "EMAIL_PROVIDER": "postmark",
        "ANYMAIL_POSTMARK_SERVER_TOKEN": "token",
    }
    env.pop("ANYMAIL_WEBHOOK_SECRET", None)
    result = subprocess.run(LOAD_SETTINGS, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert (
        "ANYMAIL_WEBHOOK_SECRET must be set when EMAIL_PROVIDER=postmark and DEBUG=0: without it "
        "the tracking webhook accepts forged delivery events."
    ) in result.stderr
    env["ANYMAIL_WEBHOOK_SECRET"] = "hook:s3cret"
    result = subprocess.run(LOAD_SETTINGS, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
