"""Resend's tracking webhook (EMAIL_PROVIDER=resend): events signed as Svix signs them move the
delivery status of the reminder whose Resend email id they carry; anything else changes
nothing. The events are signed here by computing Svix's HMAC as it documents it (the key is
the base64 after "whsec_"; the MAC covers "<svix-id>.<svix-timestamp>.<body>"), not with the
verifying library."""

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
from django.utils import timezone
from svix.webhooks import Webhook

from jobs.emails import reminder_email
from tasks.models import Reminder
from tasks.reminders.delivery import deliver_batch
from tests.factories import DueReminderFactory, ReminderFactory, TaskFactory
from tests.graphql import global_id
from tests.jobs.test_webhook import LOAD_SETTINGS, assert_refused_until_set
from tests.processes import ROOT

pytestmark = pytest.mark.django_db

URL = "/anymail/resend/tracking/"
KEY = b"taskgraph-tests-resend-signing-k"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
BASIC_AUTH = "Basic " + base64.b64encode(b"hook:s3cret").decode()
REMINDERS = "query R($id: ID!) { task(id: $id) { reminders { deliveryStatus } } }"


@pytest.fixture
def tracking(settings):
    settings.EMAIL_PROVIDER = "resend"
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "WEBHOOK_SECRET": "hook:s3cret",
        "RESEND_SIGNING_SECRET": SECRET,
    }


def event(kind: str, email_id: str, *, created_at=None, **data) -> bytes:
    """A Resend webhook body, as Resend documents them."""
    created_at = created_at or timezone.now()
    return json.dumps(
        {
            "type": kind,
            "created_at": created_at.isoformat().replace("+00:00", "Z"),
            "data": {
                "created_at": created_at.isoformat(),
                "email_id": email_id,
                "from": "Taskgraph <reminders@taskgraph.localhost>",
                "to": ["alice@example.com"],
                "subject": "Reminder: Call",
                **data,
            },
        }
    ).encode()


def signed(body: bytes, *, svix_id: str = "msg_1", stamp: float | None = None, key=KEY) -> dict:
    stamp = str(int(time.time() if stamp is None else stamp))
    mac = hmac.new(key, f"{svix_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "svix-id": svix_id,
        "svix-timestamp": stamp,
        "svix-signature": "v1," + base64.b64encode(mac).decode(),
    }


def post(client, body: bytes, headers: dict, *, auth: str | None = BASIC_AUTH):
    if auth:
        headers = {**headers, "Authorization": auth}
    return client.post(URL, body, content_type="application/json", headers=headers)


def sent(email_id: str, delivery_status: str = "queued") -> Reminder:
    return ReminderFactory(sent=True, message_id=email_id, delivery_status=delivery_status)


def row(reminder: Reminder) -> tuple[str, object]:
    fresh = Reminder.objects.get(pk=reminder.pk)
    return fresh.delivery_status, fresh.updated_at


def test_the_signature_computed_here_is_svixs_own():
    body = event("email.delivered", "e-1")
    stamp = time.time()
    moment = datetime.fromtimestamp(int(stamp), tz=UTC)
    expected = Webhook(SECRET).sign("msg_1", moment, body.decode())
    assert signed(body, stamp=stamp)["svix-signature"] == expected


def test_a_reminder_sent_through_resend_shows_its_delivery_in_graphql(
    user, gql, resend, tracking, client
):
    reminder = DueReminderFactory(task=TaskFactory(owner=user, title="Call"))
    assert deliver_batch(limit=10, compose=reminder_email)["sent"] == 1
    reminder.refresh_from_db()
    [(_, answer)] = resend.keys.values()
    assert reminder.message_id == answer["id"]  # Resend's email id, from its answer
    task_id = global_id("Task", reminder.task_id)
    assert gql.data(REMINDERS, {"id": task_id}) == {
        "task": {"reminders": [{"deliveryStatus": "queued"}]}
    }

    body = event("email.delivered", answer["id"])
    response = post(client, body, signed(body))

    assert (response.status_code, response.content) == (200, b"")
    assert gql.data(REMINDERS, {"id": task_id}) == {
        "task": {"reminders": [{"deliveryStatus": "delivered"}]}
    }


@pytest.mark.parametrize(
    ("kind", "extra", "status"),
    [
        ("email.sent", {}, "sent"),
        ("email.delivery_delayed", {}, "deferred"),
        ("email.delivered", {}, "delivered"),
        ("email.opened", {}, "opened"),
        ("email.clicked", {"click": {"link": "https://example.com", "userAgent": "x"}}, "clicked"),
        (
            "email.bounced",
            {
                "bounce": {
                    "message": "The recipient's email provider sent a hard bounce message.",
                    "subType": "General",
                    "type": "Permanent",
                }
            },
            "bounced",
        ),
        ("email.complained", {}, "complained"),
    ],
)
def test_each_resend_event_type_sets_its_delivery_status(client, tracking, kind, extra, status):
    reminder = sent("e-1")
    other = sent("e-2")
    body = event(kind, "e-1", **extra)
    assert post(client, body, signed(body)).status_code == 200
    assert row(reminder)[0] == status
    assert row(other)[0] == "queued"


@pytest.mark.parametrize("kind", ["email.failed", "email.scheduled", "contact.created"])
def test_an_event_type_anymail_does_not_map_changes_nothing(client, tracking, kind):
    reminder = sent("e-1", delivery_status="sent")
    before = row(reminder)
    body = event(kind, "e-1")
    assert post(client, body, signed(body)).status_code == 200
    assert row(reminder) == before


def test_an_event_for_an_unknown_email_id_changes_nothing(client, tracking):
    reminder = sent("e-1")
    before = row(reminder)
    body = event("email.bounced", "e-unknown")
    assert post(client, body, signed(body)).status_code == 200
    assert row(reminder) == before
    assert Reminder.objects.filter(delivery_status="bounced").count() == 0


def test_an_event_resent_by_resend_is_applied_once(client, tracking):
    """Resend retries a delivery with the same svix-id, a new timestamp and signature."""
    reminder = sent("e-1")
    body = event("email.delivered", "e-1")
    first = signed(body, svix_id="msg_retried", stamp=time.time() - 60)
    assert post(client, body, first).status_code == 200
    assert row(reminder)[0] == "delivered"
    Reminder.objects.filter(pk=reminder.pk).update(delivery_status="queued")
    before = row(reminder)

    retry = signed(body, svix_id="msg_retried")
    assert retry["svix-signature"] != first["svix-signature"]
    assert post(client, body, retry).status_code == 200
    assert post(client, body, first).status_code == 200  # the very same request again
    assert row(reminder) == before


def test_an_event_created_long_ago_is_acknowledged_and_ignored(client, tracking, settings):
    reminder = sent("e-1")
    before = row(reminder)
    created = timezone.now() - timedelta(seconds=settings.WEBHOOK_EVENT_MAX_AGE_SECONDS + 1)
    body = event("email.delivered", "e-1", created_at=created)
    assert post(client, body, signed(body)).status_code == 200  # freshly signed retry
    assert row(reminder) == before


def without(name: str):
    def make(body):
        headers = signed(body)
        del headers[name]
        return body, headers, BASIC_AUTH

    return make


REFUSED = {
    "signed with another key": lambda b: (b, signed(b, key=b"another key"), BASIC_AUTH),
    "body changed after signing": lambda b: (
        b.replace(b"email.sent", b"email.bounced"),
        signed(b),
        BASIC_AUTH,
    ),
    "svix-id changed after signing": lambda b: (
        b,
        {**signed(b), "svix-id": "msg_other"},
        BASIC_AUTH,
    ),
    "no svix-signature": without("svix-signature"),
    "no svix-id": without("svix-id"),
    "no svix-timestamp": without("svix-timestamp"),
    "signed 6 minutes ago": lambda b: (b, signed(b, stamp=time.time() - 360), BASIC_AUTH),
    "signed 6 minutes ahead": lambda b: (b, signed(b, stamp=time.time() + 360), BASIC_AUTH),
    "timestamp not a number": lambda b: (b, {**signed(b), "svix-timestamp": "soon"}, BASIC_AUTH),
    "signature without a version": lambda b: (
        b,
        {**signed(b), "svix-signature": signed(b)["svix-signature"][3:]},
        BASIC_AUTH,
    ),
    "signature not base64": lambda b: (b, {**signed(b), "svix-signature": "v1,abc"}, BASIC_AUTH),
    "two spaces between signatures": lambda b: (
        b,
        {**signed(b), "svix-signature": "v1,AAAA  " + signed(b)["svix-signature"]},
        BASIC_AUTH,
    ),
    "body not UTF-8": lambda b: (b"\xff" + b, signed(b"\xff" + b), BASIC_AUTH),
    "correctly signed, no basic auth": lambda b: (b, signed(b), None),
    "correctly signed, wrong basic auth": lambda b: (
        b,
        signed(b),
        "Basic " + base64.b64encode(b"hook:guess").decode(),
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_request_not_signed_as_resend_signs_is_refused_without_a_write(
    client, tracking, case, django_assert_num_queries
):
    reminder = sent("e-1")
    before = row(reminder)
    body, headers, auth = REFUSED[case](event("email.sent", "e-1"))
    with django_assert_num_queries(0):
        response = post(client, body, headers, auth=auth)
    assert response.status_code == 400
    assert row(reminder) == before


def test_a_signed_event_with_a_second_rotated_signature_is_accepted(client, tracking):
    """During a key rotation Svix sends one signature per key, space-separated."""
    reminder = sent("e-1")
    body = event("email.delivered", "e-1")
    headers = signed(body)
    old = signed(body, key=b"the previous key")["svix-signature"]
    headers["svix-signature"] = f"{old} {headers['svix-signature']}"
    assert post(client, body, headers).status_code == 200
    assert row(reminder)[0] == "delivered"


def test_without_the_signing_secret_the_webhook_does_not_exist(client, settings):
    settings.EMAIL_PROVIDER = "resend"
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "hook:s3cret"}
    reminder = sent("e-1")
    before = row(reminder)
    body = event("email.delivered", "e-1")
    assert post(client, body, signed(body)).status_code == 404
    assert row(reminder) == before


def test_with_another_provider_configured_resends_webhook_does_not_exist(client, settings):
    settings.EMAIL_PROVIDER = "postmark"
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "hook:s3cret"}
    settings.ANYMAIL["RESEND_SIGNING_SECRET"] = SECRET
    body = event("email.delivered", "e-1")
    assert post(client, body, signed(body)).status_code == 404


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 60,
    "ALLOWED_HOSTS": "example.com",
    "EMAIL_PROVIDER": "resend",
    "ANYMAIL_RESEND_API_KEY": "re_key",
    "ANYMAIL_WEBHOOK_SECRET": "hook:s3cret",
}


@pytest.mark.django_db(False)
def test_production_refuses_to_start_with_resend_and_no_signing_secret():
    env = {**os.environ, **PRODUCTION}
    assert_refused_until_set(
        env,
        "ANYMAIL_RESEND_SIGNING_SECRET",
        SECRET,
        "ANYMAIL_RESEND_SIGNING_SECRET must be set when EMAIL_PROVIDER=resend and DEBUG=0",
    )


@pytest.mark.django_db(False)
@pytest.mark.parametrize("secret", ["whsec_", "whsec_!!!!", "whsec_abcde"])
def test_a_malformed_signing_secret_stops_the_start(secret):
    """svix would fail on it at every request, answering each event with a 500."""
    env = {**os.environ, **PRODUCTION, "DEBUG": "1", "ANYMAIL_RESEND_SIGNING_SECRET": secret}
    result = subprocess.run(LOAD_SETTINGS, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: ANYMAIL_RESEND_SIGNING_SECRET must be the "
        "webhook's signing secret shown by Resend: whsec_ followed by base64."
    )


@pytest.mark.django_db(False)
@pytest.mark.parametrize(("provider", "loaded"), [("smtp", False), ("resend", True)])
def test_a_web_process_imports_svix_only_when_it_serves_resends_webhook(provider, loaded):
    """svix brings pydantic and httpx (about 25 MiB): core.wsgi imports Anymail's webhooks,
    before freezing the start-up objects, only for a provider whose webhook it serves."""
    env = {**os.environ, "EMAIL_PROVIDER": provider, "ANYMAIL_RESEND_SIGNING_SECRET": SECRET}
    code = "import sys, core.wsgi; print('svix.webhooks' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert (result.returncode, result.stdout) == (0, f"{loaded}\n"), result.stderr
