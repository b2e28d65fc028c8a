"""The reminder email: plain text and HTML, times in the owner's time zone; and the notice to
the owner of a webhook endpoint that was disabled."""

from datetime import UTC
from email.utils import parseaddr
from functools import cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, send_mail
from django.template.loader import render_to_string

from jobs.links import task_url
from tasks.models import Reminder
from webhooks.models import WebhookEndpoint


def _moment(reminder: Reminder) -> int:
    """The reminder's moment as it names the email: one per reminder and remind_at."""
    return int(reminder.remind_at.timestamp())


def message_id(reminder: Reminder) -> str:
    """The same for every attempt at one reminder's moment, so that a copy sent twice (a
    worker killed between the provider's acceptance and the SENT mark) carries the Message-ID
    of the first, which mail clients and archives use to drop duplicates. A reminder re-armed
    for a new moment gets a new one: it is a new email."""
    return f"<reminder.{reminder.pk}.{_moment(reminder)}@{_domain(settings.DEFAULT_FROM_EMAIL)}>"


@cache
def _domain(from_email: str) -> str:
    """The sender's domain, parsed once per setting value rather than once per email."""
    return parseaddr(from_email)[1].rpartition("@")[2] or "taskgraph.localhost"


def _local(moment, zone: ZoneInfo) -> str:
    try:
        local, name = moment.astimezone(zone), zone.key
    except OverflowError:
        # Within hours of year 1 or 9999's end (the API takes any moment UTC can hold), the
        # local time has no date Python can represent: the email shows UTC instead.
        local, name = moment.astimezone(UTC), "UTC"
    return f"{local:%A %-d %B %Y, %H:%M} ({name})"


def reminder_email(reminder: Reminder) -> EmailMultiAlternatives:
    """The email for one reminder, loaded by ``tasks.reminders.selectors.reminders_for_delivery``
    (owner, open pre-tasks); ``deliver_batch`` calls it as its composer."""
    task = reminder.task
    owner = task.owner
    zone = ZoneInfo(owner.timezone or "UTC")
    when = _local(task.scheduled_at or reminder.remind_at, zone)
    context = {
        "task": task,
        "when": when,
        "scheduled": task.scheduled_at is not None,
        "open_pre_tasks": getattr(task, "open_pre_tasks", []),
        "url": task_url(task),
    }
    message = EmailMultiAlternatives(
        subject=f"Reminder: {task.title} ({when})",
        body=render_to_string("jobs/reminder_email.txt", context),
        to=[owner.email],
        headers={"X-Taskgraph-Reminder": str(reminder.pk), "Message-ID": message_id(reminder)},
    )
    message.attach_alternative(render_to_string("jobs/reminder_email.html", context), "text/html")
    # For providers that take one (core.email.ResendBackend): the same for every attempt at
    # this reminder's moment, like the Message-ID.
    message.idempotency_key = f"reminder/{reminder.pk}/{_moment(reminder)}"
    return message


def webhook_disabled_email(endpoint: WebhookEndpoint) -> None:
    owner = endpoint.owner
    send_mail(
        subject="Taskgraph: your webhook was disabled",
        message=(
            f"Hello,\n\nYour webhook endpoint {endpoint.url} failed "
            f"{settings.WEBHOOK_DISABLE_AFTER_FAILURES} deliveries in a row, so we disabled it: "
            f"{endpoint.disabled_reason}\n\nFix the receiver, then enable it again with the "
            "webhookUpdate mutation (enabled: true) and redeliver what failed with "
            "webhookDeliveryRetry.\n"
        ),
        from_email=None,
        recipient_list=[owner.email],
    )
