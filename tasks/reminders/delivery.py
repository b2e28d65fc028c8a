"""Claim due reminders, send their emails, record each outcome.

The loop belongs to the reminder's state machine (claim, release, retry or fail), so it lives
here; what the email says is the caller's: ``deliver_batch`` takes the composer as a parameter
(the actor passes ``jobs.emails.reminder_email``), so this module imports nothing from jobs.
"""

import smtplib
import time
from collections.abc import Callable

import structlog
from anymail.exceptions import (
    AnymailAPIError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
)
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from core.metrics import DELIVERIES, LATENESS
from tasks.models import Reminder
from tasks.reminders.claims import (
    Sent,
    reminder_claim_due,
    reminder_mark_failed,
    reminder_mark_sent,
    reminder_release,
    reminder_worker_session,
)
from tasks.reminders.selectors import reminders_for_delivery

logger = structlog.get_logger(__name__)

# Provider answers that will not change on a retry.
PERMANENT_HTTP_STATUSES = {400, 413, 422}


# The email for a reminder loaded by ``reminders_for_delivery``, sent on this connection.
Composer = Callable[[Reminder, BaseEmailBackend], EmailMessage]


def is_permanent(exc: BaseException) -> bool:
    """Refused recipients and invalid addresses fail at once; anything else may pass later
    (timeouts, connection errors, 4xx SMTP replies, provider 5xx and rate limits)."""
    if isinstance(exc, AnymailRecipientsRefused | AnymailInvalidAddress):
        return True
    if isinstance(exc, AnymailAPIError):
        return getattr(exc, "status_code", None) in PERMANENT_HTTP_STATUSES
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return isinstance(exc, ValueError)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _provider_message_id(message) -> tuple[str, str]:
    status = getattr(message, "anymail_status", None)
    if status is None:
        return "", "sent"
    recipient = status.recipients.get(message.to[0]) if status.recipients else None
    if recipient is not None:
        message_id = "" if recipient.message_id is None else str(recipient.message_id)
        return message_id, str(recipient.status or "sent")
    message_id = status.message_id
    if isinstance(message_id, set):
        message_id = min(message_id, key=str)
    return ("" if message_id is None else str(message_id)), "sent"


class SentMarks:
    """Accepted emails waiting for their SENT commit.

    Committing each alone costs a database round trip per email; committing a whole batch at
    the end would widen the duplicate window (accepted by the provider, not yet marked SENT)
    to the batch. So: after a send that took SLOW_SEND_S or more (any real network provider)
    the mark commits at once; after fast ones (a local relay, the console) marks are grouped,
    committed every FLUSH_EVERY emails or FLUSH_AFTER_S seconds.
    """

    FLUSH_EVERY = 50
    FLUSH_AFTER_S = 0.01
    SLOW_SEND_S = 0.002

    def __init__(self) -> None:
        self.pending: list[Sent] = []
        self.flushed = time.monotonic()

    def add(self, item: Sent, *, send_s: float) -> None:
        self.pending.append(item)
        if (
            send_s >= self.SLOW_SEND_S
            or len(self.pending) >= self.FLUSH_EVERY
            or time.monotonic() - self.flushed >= self.FLUSH_AFTER_S
        ):
            self.flush()

    def flush(self) -> None:
        if self.pending:
            reminder_mark_sent(sent=self.pending)
            self.pending = []
        self.flushed = time.monotonic()


def deliver_batch(
    *, limit: int, compose: Composer, on_full_batch: Callable[[], None] | None = None
) -> dict:
    """Claim up to ``limit`` due reminders and send each email ``compose`` makes. Returns counts
    by outcome."""
    reminder_worker_session()
    claims = reminder_claim_due(limit=limit)
    counts = {"claimed": len(claims), "sent": 0, "retrying": 0, "failed": 0, "released": 0}
    if not claims:
        return counts
    if len(claims) == limit and on_full_batch is not None:
        on_full_batch()
    claimed = time.monotonic()
    by_pk = {claim.pk: claim for claim in claims}
    connection = get_connection(fail_silently=False)
    marks = SentMarks()
    try:
        batch = reminders_for_delivery(pks=by_pk)
        for position, reminder in enumerate(batch):
            if position and time.monotonic() - claimed > settings.REMINDER_CLAIM_HOLD_SECONDS:
                # A slow provider: give the rest back before the dispatcher would think this
                # worker dead (REMINDER_STALE_SENDING_SECONDS) and send them a second time.
                rest = [by_pk[r.pk] for r in batch[position:]]
                counts["released"] = reminder_release(claims=rest)
                DELIVERIES.labels("released").inc(counts["released"])
                logger.info(
                    "reminders_released",
                    reminder_ids=[claim.pk for claim in rest],
                    released=counts["released"],
                )
                break
            claim = by_pk[reminder.pk]
            try:
                message = compose(reminder, connection)
                send_started = time.monotonic()
                connection.send_messages([message])
            except Exception as exc:
                permanent = is_permanent(exc)
                retry_at = reminder_mark_failed(
                    claim=claim, error=_describe(exc), permanent=permanent
                )
                outcome = "retrying" if retry_at else "failed"
                counts[outcome] += 1
                DELIVERIES.labels(outcome).inc()
                logger.warning(
                    "reminder_delivery",
                    reminder_id=reminder.pk,
                    task_id=reminder.task_id,
                    attempt=claim.attempts,
                    outcome=outcome,
                    retry_at=retry_at.isoformat() if retry_at else None,
                    error=_describe(exc),
                )
                # A broken connection must not fail the rest of the batch: reopen it.
                connection.close()
                continue
            message_id, status = _provider_message_id(message)
            sent_at = timezone.now()
            marks.add(
                Sent(claim, sent_at, message_id, status), send_s=time.monotonic() - send_started
            )
            counts["sent"] += 1
            lateness = (sent_at - reminder.remind_at).total_seconds()
            DELIVERIES.labels("sent").inc()
            LATENESS.observe(max(lateness, 0.0))
            logger.info(
                "reminder_delivery",
                reminder_id=reminder.pk,
                task_id=reminder.task_id,
                attempt=claim.attempts,
                outcome="sent",
                provider_message_id=message_id,
                lateness_s=round(lateness, 3),
            )
    finally:
        marks.flush()
        connection.close()
    return counts
