"""Dramatiq actors: thin, each calls one reminder function of the domain. Imported only after
django_dramatiq has set the broker (core/broker.py)."""

import logging

import dramatiq
from django.conf import settings
from periodiq import cron

from core import health
from jobs import account_emails
from jobs.emails import reminder_email, webhook_disabled_email
from tasks.reminders.delivery import deliver_batch
from tasks.reminders.dispatch import reminder_dispatch
from webhooks.delivery import delivery_attempt, webhook_sweep
from webhooks.idempotency import idempotency_expire

logger = logging.getLogger(__name__)


# Retries live in the database (due_at, attempts) and the dispatcher re-queues anything a
# failed run left behind, so Dramatiq's own retries would only add duplicate paths.
@dramatiq.actor(max_retries=0, time_limit=300_000)
def deliver_due_reminders(slot_ms: int) -> None:
    """Claim a batch of due reminders and send them. A full batch means more may be due: a
    second message lets another worker thread take the next batch meanwhile."""
    deliver_batch(
        limit=settings.REMINDER_BATCH_SIZE,
        compose=reminder_email,
        on_full_batch=lambda: deliver_due_reminders.send(slot_ms),
    )


@dramatiq.actor(periodic=cron("* * * * *"), max_retries=0, time_limit=120_000)
def dispatch_reminders() -> None:
    woken = reminder_dispatch()
    health.beat(health.DISPATCHER)
    if woken:
        logger.info("Reminder dispatcher queued or re-queued %d reminders.", woken)


# Webhook deliveries (issue 12): retries live in the delivery rows, like reminders'.
@dramatiq.actor(max_retries=0, time_limit=120_000)
def deliver_webhook(delivery_id: int) -> None:
    delivery_attempt(pk=delivery_id, on_disabled=webhook_disabled_email)


@dramatiq.actor(periodic=cron("* * * * *"), max_retries=0, time_limit=120_000)
def sweep_webhooks() -> None:
    woken = webhook_sweep()
    if woken:
        logger.info("Webhook sweep re-queued %d deliveries.", woken)


@dramatiq.actor(periodic=cron("7 * * * *"), max_retries=0, time_limit=300_000)
def expire_idempotency_keys() -> None:
    deleted = idempotency_expire()
    if deleted:
        logger.info("Deleted %d expired idempotency keys.", deleted)


@dramatiq.actor(max_retries=5, min_backoff=15_000, time_limit=60_000)
def send_account_email(kind: str, user_pk: int) -> None:
    """A verification or password reset email (users.accounts queues it after its commit).
    Dramatiq retries a failed send with backoff; a lost one is asked for again by the user."""
    account_emails.deliver(kind=kind, user_pk=user_pk)
