"""Reads on webhooks, always filtered to the caller."""

from django.db.models import Prefetch, QuerySet

from users.models import User
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def webhook_list(*, user: User) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(owner=user).order_by("created_at", "pk")


def webhook_delivery_list(
    *, user: User, endpoint_pk: int | None, state: str | None = None, limit: int
) -> list[WebhookDelivery]:
    """The endpoint's newest deliveries with their event and attempts (three queries)."""
    if endpoint_pk is None:
        return []
    deliveries = _deliveries(user).filter(endpoint_id=endpoint_pk)
    if state:
        deliveries = deliveries.filter(state=state)
    return list(deliveries.order_by("-created_at", "-pk")[:limit])


def _deliveries(user: User) -> QuerySet[WebhookDelivery]:
    return (
        WebhookDelivery.objects.filter(endpoint__owner=user)
        .select_related("event")
        .prefetch_related(
            Prefetch("attempt_log", WebhookAttempt.objects.order_by("started_at", "pk"))
        )
    )
