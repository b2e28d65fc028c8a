"""Record events in the outbox: the one function the other domain apps call.

``event_record`` must run inside the transaction of the change it reports: the event and its
deliveries commit or roll back with it. It writes nothing when no enabled endpoint of the owner
listens for the type (one indexed SELECT), and wakes a worker for each delivery after the
commit.
"""

from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone

from webhooks.models import EventType, WebhookDelivery, WebhookEndpoint, WebhookEvent
from webhooks.wakeups import wake_after_commit

# (owner id, event type, data)
Event = tuple[int, str, dict]


def event_record(*, owner_id: int, type: EventType, data: dict) -> int:
    """Record one event; returns how many deliveries it got."""
    return events_record([(owner_id, type, data)])


def owners_listening(type: EventType, owner_ids: Iterable[int]) -> set[int]:
    """Which of these owners have an enabled endpoint listening for ``type`` (one query): a
    caller that records many events of one kind can skip the others' outbox work."""
    return {
        owner_id
        for owner_id, types in WebhookEndpoint.objects.filter(
            owner_id__in=list(owner_ids), enabled=True
        ).values_list("owner_id", "events")
        if type in types
    }


def events_record(events: Iterable[Event], *, now: datetime | None = None) -> int:
    """Record many events with a fixed number of queries; returns how many deliveries."""
    events = list(events)
    if not events:
        return 0
    owners = {owner_id for owner_id, _, _ in events}
    endpoints: dict[int, list[tuple[int, list]]] = {}
    for pk, owner_id, types in WebhookEndpoint.objects.filter(
        owner_id__in=owners, enabled=True
    ).values_list("pk", "owner_id", "events"):
        endpoints.setdefault(owner_id, []).append((pk, types))
    if not endpoints:
        return 0
    now = now or timezone.now()
    rows: list[WebhookEvent] = []
    targets: list[list[int]] = []
    for owner_id, type, data in events:
        listening = [pk for pk, types in endpoints.get(owner_id, ()) if type in types]
        if listening:
            rows.append(WebhookEvent(owner_id=owner_id, type=str(type), data=data, created_at=now))
            targets.append(listening)
    if not rows:
        return 0
    WebhookEvent.objects.bulk_create(rows)
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(event=event, endpoint_id=pk, next_attempt_at=now, created_at=now)
        for event, listening in zip(rows, targets, strict=True)
        for pk in listening
    )
    wake_after_commit([(delivery.pk, None) for delivery in deliveries])
    return len(deliveries)
