"""Anymail tracking events (/anymail/<esp>/tracking/) update the reminders' delivery status.

By the time an event reaches this handler Anymail has authenticated the request (basic auth,
and the provider's signature where it signs: core.views.tracking_webhook). Two more checks,
because a signature proves who wrote an event, not that it is new:

- an event older than WEBHOOK_EVENT_MAX_AGE_SECONDS by the provider's own timestamp, or stamped
  in the future, or without a timestamp, is ignored;
- an event seen before (same provider event id or, without one, the same message, type and
  timestamp) is ignored: the seen ids live in the shared cache for the window.

Ignored events are acknowledged all the same (HTTP 200): an error would make the provider send
them again. Status moves forward only per message (tasks.reminders.reminder_delivery_update).
"""

import hashlib
import logging
from datetime import timedelta

from anymail.signals import AnymailTrackingEvent
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from tasks.reminders.tracking import reminder_delivery_update

logger = logging.getLogger(__name__)
CLOCK_SKEW = timedelta(minutes=5)


def _replay_key(event: AnymailTrackingEvent, esp_name: str) -> str:
    identity = event.event_id or (
        f"{event.message_id}|{event.event_type}|{event.timestamp.isoformat()}"
    )
    digest = hashlib.sha256(f"{esp_name}|{identity}".encode()).hexdigest()[:40]
    return f"webhook-event:{digest}"


def refusal(event: AnymailTrackingEvent, esp_name: str) -> str | None:
    """Why this event must not be applied, or None."""
    now = timezone.now()
    max_age = timedelta(seconds=settings.WEBHOOK_EVENT_MAX_AGE_SECONDS)
    if event.timestamp is None:
        return "no timestamp"
    if event.timestamp < now - max_age:
        return "too old"
    if event.timestamp > now + CLOCK_SKEW:
        return "stamped in the future"
    window = int((max_age + CLOCK_SKEW).total_seconds())
    if not cache.add(_replay_key(event, esp_name), 1, timeout=window):
        return "already seen"
    return None


def on_tracking(sender, event: AnymailTrackingEvent, esp_name: str, **kwargs) -> None:
    if not event.message_id:
        return
    if reason := refusal(event, esp_name):
        logger.warning(
            "Ignored a %s %s event for message %s: %s.",
            esp_name,
            event.event_type,
            event.message_id,
            reason,
        )
        return
    reminder_delivery_update(message_id=str(event.message_id), status=event.event_type)
