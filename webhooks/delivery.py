"""Deliver one event to one endpoint, record the attempt, retry or give up; and the sweep.

The state machine: PENDING -> SENDING (claimed by one conditional UPDATE, ``version`` bumped)
-> SUCCEEDED | PENDING again (retry at ``next_attempt_at``) | FAILED (retried for
``WEBHOOK_RETRY_FOR_SECONDS``, or the endpoint was disabled). Each outcome is written only if
the claim still holds. A message that finds nothing claimable (already sent, not yet due, a
duplicate wake-up) does nothing, so every path here is safe to run twice.

Guarantee: at least once per endpoint. A worker that dies after the receiver answered 2xx
and before SUCCEEDED commits leaves the row SENDING; the sweep gives it back and it is sent
again with the same ``webhook-id``, which receivers use to drop the duplicate.
"""

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from standardwebhooks import Webhook

from webhooks.models import (
    DeliveryState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from webhooks.ssrf import guarded_session
from webhooks.wakeups import wake_after_commit, wake_now

logger = logging.getLogger(__name__)

# Called with the endpoint that was just disabled, after the commit (jobs emails its owner).
OnDisabled = Callable[[WebhookEndpoint], object]

SWEEP_LIMIT = 10_000


def body_of(delivery: WebhookDelivery) -> str:
    event = delivery.event
    return json.dumps(
        {"type": event.type, "timestamp": event.created_at.isoformat(), "data": event.data},
        separators=(",", ":"),
        sort_keys=True,
    )


def signed_headers(*, secret: str, webhook_id: str, body: str, at: datetime) -> dict[str, str]:
    signature = Webhook(secret).sign(msg_id=webhook_id, timestamp=at, data=body)
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def _claim(pk: int, now: datetime) -> WebhookDelivery | None:
    claimed = WebhookDelivery.objects.filter(
        pk=pk, state=DeliveryState.PENDING, next_attempt_at__lte=now
    ).update(
        state=DeliveryState.SENDING,
        attempts=F("attempts") + 1,
        version=F("version") + 1,
        claimed_at=now,
    )
    if not claimed:
        return None
    # None if the endpoint was deleted meanwhile (its deliveries went with it).
    return WebhookDelivery.objects.select_related("event", "endpoint").filter(pk=pk).first()


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: doubling, capped."""
    ms = settings.WEBHOOK_RETRY_BACKOFF_MS * 2 ** min(attempts - 1, 30)
    return timedelta(milliseconds=min(ms, settings.WEBHOOK_RETRY_MAX_BACKOFF_SECONDS * 1000))


def delivery_attempt(
    *,
    pk: int,
    session: requests.Session | None = None,
    on_disabled: OnDisabled | None = None,
) -> str | None:
    """Attempt delivery ``pk`` if it is claimable now. Returns the new state, or None when
    there was nothing to do."""
    started = timezone.now()
    delivery = _claim(pk, started)
    if delivery is None:
        return None
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        _finish(delivery, state=DeliveryState.FAILED, last_error="The endpoint is disabled.")
        return DeliveryState.FAILED
    body = body_of(delivery)
    headers = signed_headers(
        secret=endpoint.secret, webhook_id=delivery.event.webhook_id, body=body, at=started
    )
    status_code, error = None, ""
    owned = session is None
    session = session or guarded_session()
    try:
        response = session.post(endpoint.url, data=body.encode(), headers=headers)
        status_code = response.status_code
        response.close()
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}" + (
                " (redirects are not followed)" if 300 <= status_code < 400 else ""
            )
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
    finally:
        if owned:
            session.close()
    return _record(
        delivery, started=started, status_code=status_code, error=error, on_disabled=on_disabled
    )


def _record(delivery, *, started, status_code, error, on_disabled) -> str:
    now = timezone.now()
    endpoint = delivery.endpoint
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            started_at=started,
            finished_at=now,
            status_code=status_code,
            error=error,
            succeeded=not error,
        )
        if not error:
            _finish(
                delivery,
                state=DeliveryState.SUCCEEDED,
                succeeded_at=now,
                last_status_code=status_code,
                last_error="",
            )
            WebhookEndpoint.objects.filter(pk=endpoint.pk).exclude(consecutive_failures=0).update(
                consecutive_failures=0, failing_since=None
            )
            return DeliveryState.SUCCEEDED
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            consecutive_failures=F("consecutive_failures") + 1,
            failing_since=Coalesce(F("failing_since"), Value(now)),
        )
        failures, failing_since = WebhookEndpoint.objects.values_list(
            "consecutive_failures", "failing_since"
        ).get(pk=endpoint.pk)
        # Disabled only after a run of failures that also lasted a while: a receiver down for a
        # few minutes during a burst fails hundreds of attempts in a row, and must not be.
        disabled = (
            failures >= settings.WEBHOOK_DISABLE_AFTER_FAILURES
            and now - failing_since >= timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS)
            and _disable(endpoint, failures)
        )
        if disabled and on_disabled is not None:
            transaction.on_commit(lambda: on_disabled(endpoint))
        expired = now - delivery.event.created_at >= timedelta(
            seconds=settings.WEBHOOK_RETRY_FOR_SECONDS
        )
        if expired or not endpoint.enabled:
            _finish(
                delivery,
                state=DeliveryState.FAILED,
                last_status_code=status_code,
                last_error=error,
            )
            return DeliveryState.FAILED
        retry_at = now + backoff(delivery.attempts)
        if _finish(
            delivery,
            state=DeliveryState.PENDING,
            next_attempt_at=retry_at,
            last_status_code=status_code,
            last_error=error,
        ):
            wake_after_commit([(delivery.pk, retry_at)])
        return DeliveryState.PENDING


def _disable(endpoint: WebhookEndpoint, failures: int) -> bool:
    """Disable the endpoint (once: only the attempt that flips it returns True) and fail its
    pending deliveries; they can be redelivered by ``webhookDeliveryRetry``."""
    reason = f"Disabled after {failures} failed attempts in a row."
    if not WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
        enabled=False, disabled_reason=reason
    ):
        return False
    endpoint.enabled = False
    endpoint.disabled_reason = reason
    WebhookDelivery.objects.filter(endpoint=endpoint, state=DeliveryState.PENDING).update(
        state=DeliveryState.FAILED,
        last_error="The endpoint was disabled.",
        version=F("version") + 1,
    )
    logger.warning("Webhook endpoint %s disabled: %s", endpoint.pk, reason)
    return True


def _finish(delivery: WebhookDelivery, **changes) -> bool:
    """Write the claim's outcome, only if the claim still holds."""
    return bool(
        WebhookDelivery.objects.filter(
            pk=delivery.pk, version=delivery.version, state=DeliveryState.SENDING
        ).update(version=F("version") + 1, **changes)
    )


def webhook_sweep(*, now: datetime | None = None, restart: bool = False) -> int:
    """Give back deliveries whose worker died, and wake those whose message was lost (a wiped
    Redis, a killed worker holding delayed messages). Safe to run twice at once and to miss
    runs. ``restart``: every PENDING due delivery counts as lost (the embedded broker's
    messages died with the previous process). Returns how many it woke."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.WEBHOOK_STALE_SENDING_SECONDS)
    WebhookDelivery.objects.filter(state=DeliveryState.SENDING, claimed_at__lt=stale).update(
        state=DeliveryState.PENDING, next_attempt_at=now, version=F("version") + 1
    )
    lost_before = now if restart else now - timedelta(seconds=settings.WEBHOOK_LOST_AFTER_SECONDS)
    pks = list(
        WebhookDelivery.objects.filter(
            state=DeliveryState.PENDING, next_attempt_at__lte=lost_before
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_LIMIT]
    )
    if pks:
        wake_now([(pk, None) for pk in pks])
    return len(pks)
