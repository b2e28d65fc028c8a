"""Writes on webhook endpoints and deliveries; ValidationError with per-field codes."""

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from core.cleaning import clean_fields
from core.unset import UNSET, Unset, given
from users.models import User
from users.services import user_lock
from webhooks.models import (
    DESCRIPTION_MAX_LENGTH,
    URL_MAX_LENGTH,
    DeliveryState,
    EventType,
    WebhookDelivery,
    WebhookEndpoint,
)
from webhooks.ssrf import url_check
from webhooks.wakeups import wake_after_commit


def new_secret() -> str:
    """A Standard Webhooks symmetric secret: "whsec_" and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_owner_room(*, user: User, owned: QuerySet, limit: int, noun: str) -> None:
    """Refuse one more of what the user owns past its maximum. Call it inside the transaction
    that creates the row: the user's row stays locked, so two concurrent creates cannot both
    pass."""
    user_lock(user_id=user.pk)
    if owned.count() >= limit:
        raise ValidationError(
            "You have %(limit)d %(noun)s, the most allowed: delete one first.",
            code="limit_reached",
            params={"limit": limit, "noun": noun},
        )


@dataclass(frozen=True)
class Created:
    endpoint: WebhookEndpoint
    secret: str


def _clean_url(url: str) -> str:
    url = url.strip()
    if len(url) > URL_MAX_LENGTH:
        raise ValidationError(
            "URL must be at most %(limit)d characters.",
            code="max_length",
            params={"limit": URL_MAX_LENGTH},
        )
    return url_check(url)


def _clean_events(events: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys(events))
    if not wanted:
        raise ValidationError("Choose at least one event.", code="required")
    unknown = [name for name in wanted if name not in EventType.values]
    if unknown:
        raise ValidationError(
            "Unknown events: %(unknown)s. Known: %(known)s.",
            code="invalid_choice",
            params={"unknown": ", ".join(unknown), "known": ", ".join(EventType.values)},
        )
    return wanted


def _clean_description(description: str) -> str:
    if len(description) > DESCRIPTION_MAX_LENGTH:
        raise ValidationError(
            "Description must be at most %(limit)d characters.",
            code="max_length",
            params={"limit": DESCRIPTION_MAX_LENGTH},
        )
    return description


_CLEANERS = {"url": _clean_url, "events": _clean_events, "description": _clean_description}


def _cleaned(values: dict) -> dict:
    return clean_fields(values, _CLEANERS)


def webhook_create(
    *, user: User, url: str, events: Sequence[str], description: str = ""
) -> Created:
    """A new endpoint; the secret is returned here and never again."""
    cleaned = _cleaned({"url": url, "events": events, "description": description})
    with transaction.atomic():
        check_owner_room(
            user=user,
            owned=WebhookEndpoint.objects.filter(owner=user),
            limit=settings.WEBHOOK_MAX_PER_USER,
            noun="webhooks",
        )
        secret = new_secret()
        endpoint = WebhookEndpoint.objects.create(owner=user, secret=secret, **cleaned)
    return Created(endpoint=endpoint, secret=secret)


def _owned(user: User, pk: int | None) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(owner=user, pk=pk).first() if pk is not None else None
    if endpoint is None:
        raise ValidationError({"id": ValidationError("Webhook not found.", code="not_found")})
    return endpoint


def webhook_update(
    *,
    user: User,
    pk: int | None,
    url: str | Unset = UNSET,
    events: Sequence[str] | Unset = UNSET,
    description: str | Unset = UNSET,
    enabled: bool | Unset = UNSET,
) -> WebhookEndpoint:
    """Change the given fields. Enabling an endpoint resets its failure count."""
    endpoint = _owned(user, pk)
    changes = _cleaned(given(url=url, events=events, description=description))
    if enabled is not UNSET:
        changes["enabled"] = enabled
        if enabled:
            changes.update(consecutive_failures=0, failing_since=None, disabled_reason="")
    for name, value in changes.items():
        setattr(endpoint, name, value)
    if changes:
        endpoint.save(update_fields=list(changes))
    return endpoint


def webhook_secret_rotate(*, user: User, pk: int | None) -> Created:
    endpoint = _owned(user, pk)
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret"])
    return Created(endpoint=endpoint, secret=endpoint.secret)


def webhook_delete(*, user: User, pk: int | None) -> None:
    _owned(user, pk).delete()


def webhook_delivery_retry(*, user: User, pk: int | None) -> WebhookDelivery:
    """Deliver again, now, a delivery that succeeded or failed (same ``webhook-id``). A PENDING
    one is only brought forward; a SENDING one is refused (it is being sent).

    Returns the delivery as this call left it (PENDING, due now), with no read after the
    commit: by then a worker may already be sending it."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update().filter(pk=pk, endpoint__owner=user).first()
            if pk is not None
            else None
        )
        if delivery is None:
            raise ValidationError({"id": ValidationError("Delivery not found.", code="not_found")})
        if delivery.state == DeliveryState.SENDING:
            raise ValidationError(
                {"id": ValidationError("This delivery is being sent right now.", code="busy")}
            )
        if not WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, enabled=True).exists():
            raise ValidationError(
                {"id": ValidationError("Enable the webhook first.", code="disabled")}
            )
        now = timezone.now()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            state=DeliveryState.PENDING, next_attempt_at=now, version=F("version") + 1
        )
        wake_after_commit([(delivery.pk, None)])
    # The row was locked from the read to the update: these are the values it now holds.
    delivery.state, delivery.next_attempt_at = DeliveryState.PENDING, now
    delivery.version += 1
    return delivery
