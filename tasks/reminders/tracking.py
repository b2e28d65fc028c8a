"""Delivery status from the provider's tracking events (Anymail webhooks, via jobs.webhooks)."""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tasks.events import reminder_events
from tasks.models import Reminder
from webhooks.models import EventType

DELIVERY_RANK = {
    "queued": 1,
    "sent": 2,
    "deferred": 3,
    "delivered": 4,
    "autoresponded": 4,
    "opened": 5,
    "clicked": 6,
    "bounced": 7,
    "rejected": 7,
    "failed": 7,
    "complained": 8,
    "unsubscribed": 8,
}


def reminder_delivery_update(*, message_id: str, status: str) -> int:
    """A provider's tracking event: the delivery status of the reminder it names, moving
    forward only (a late 'delivered' does not hide an 'opened')."""
    rank = DELIVERY_RANK.get(status, 0)
    lower = [name for name, value in DELIVERY_RANK.items() if value < rank]
    with transaction.atomic():
        pks = list(
            Reminder.objects.select_for_update()
            .filter(message_id=message_id)
            .filter(Q(delivery_status__in=lower) | Q(delivery_status=""))
            .values_list("pk", flat=True)
        )
        updated = Reminder.objects.filter(pk__in=pks).update(
            delivery_status=status, updated_at=timezone.now()
        )
        reminder_events(EventType.REMINDER_DELIVERY, pks)
    return updated
