"""Claim due reminders, send their emails, record each outcome.

The loop belongs to the reminder's state machine (claim, release, retry or fail), so it lives
here; what the email says is the caller's: ``deliver_batch`` takes the composer as a parameter
(the actor passes ``jobs.emails.reminder_email``), so this module imports nothing from jobs.
"""

import logging
import smtplib
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime

import requests
from anymail.backends.base_requests import AnymailRequestsBackend
from anymail.exceptions import (
    AnymailAPIError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
)
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone
from requests.adapters import HTTPAdapter

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

logger = logging.getLogger(__name__)

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


class Outbox:
    """One batch's way to the provider: one open connection, and sender threads that keep
    ``concurrency`` emails in flight on it while the batch's own thread composes the next
    emails and records the outcomes.

    Django's SMTP backend and Anymail's both close a connection they opened themselves inside
    ``send_messages``: opening it here first is what keeps one SMTP connection (one HTTP
    session) for the whole batch. An SMTP connection carries one email at a time; an HTTP
    session's connection pool carries ``REMINDER_HTTP_CONCURRENCY`` requests at once.
    """

    def __init__(self) -> None:
        self.connection = get_connection(fail_silently=False)
        session_based = isinstance(self.connection, AnymailRequestsBackend)
        self.concurrency = settings.REMINDER_HTTP_CONCURRENCY if session_based else 1
        # A failed SMTP exchange may leave the connection unusable; an HTTP session's pool
        # replaces broken connections by itself.
        self.reopen_after_error = not session_based
        self.broken = False
        self.pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="reminder-send")

    def __enter__(self) -> "Outbox":
        try:
            self.connection.open()
        except Exception as exc:
            # The provider is down: each email fails on its own (transient, retried later).
            logger.warning("Could not open the email connection: %s", _describe(exc))
            self.broken = True
        session = getattr(self.connection, "session", None)
        if isinstance(session, requests.Session):
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self.concurrency)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        return self

    def __exit__(self, *exc_info) -> None:
        self.pool.shutdown(wait=True)
        self.connection.close()

    def submit(self, message) -> Future:
        """Send in a sender thread; the future gives (error or None, seconds the send took)."""
        return self.pool.submit(self._send, message)

    def _send(self, message) -> tuple[Exception | None, float]:
        started = time.monotonic()
        try:
            if self.broken:
                self.connection.close()
                self.connection.open()
                self.broken = False
            self.connection.send_messages([message])
        except Exception as exc:
            self.broken = self.reopen_after_error
            return exc, time.monotonic() - started
        return None, time.monotonic() - started


def deliver_batch(
    *,
    limit: int,
    compose: Composer,
    on_full_batch: Callable[[], None] | None = None,
    due_before: datetime | None = None,
) -> dict:
    """Claim up to ``limit`` due reminders and send each email ``compose`` makes. Returns counts
    by outcome.

    The batch's thread composes emails and hands them to the outbox's sender threads, keeping
    a few in flight; each email the provider accepted is marked SENT as soon as this thread
    sees it (emails accepted while it was busy share one UPDATE), so a crash can double only
    the emails accepted and not yet recorded: the duplicate window.
    """
    reminder_worker_session()
    claims = reminder_claim_due(limit=limit, due_before=due_before)
    counts = {"claimed": len(claims), "sent": 0, "retrying": 0, "failed": 0, "released": 0}
    if not claims:
        return counts
    if len(claims) == limit and on_full_batch is not None:
        try:
            on_full_batch()
        except Exception as exc:
            # The broker is down: this batch goes on, the sweeper takes what is left.
            logger.warning("Could not hand the next batch on: %s", _describe(exc))
    claimed = time.monotonic()
    by_pk = {claim.pk: claim for claim in claims}
    batch = reminders_for_delivery(pks=by_pk)
    in_flight: dict[Future, tuple] = {}

    def record(done: Iterable[Future]) -> None:
        sent = []
        for future in done:
            reminder, message = in_flight.pop(future)
            error, _ = future.result()
            claim = by_pk[reminder.pk]
            if error is None:
                message_id, status = _provider_message_id(message)
                sent.append(Sent(claim, timezone.now(), message_id, status))
                continue
            retry_at = reminder_mark_failed(
                claim=claim, error=_describe(error), permanent=is_permanent(error)
            )
            counts["retrying" if retry_at else "failed"] += 1
            logger.warning(
                "Reminder %s attempt %d failed (%s): %s",
                reminder.pk,
                claim.attempts,
                f"retry at {retry_at.isoformat()}" if retry_at else "given up",
                _describe(error),
            )
        counts["sent"] += len(sent)
        reminder_mark_sent(sent=sent)

    with Outbox() as outbox:
        window = 2 * outbox.concurrency
        try:
            for position, reminder in enumerate(batch):
                if position and time.monotonic() - claimed > settings.REMINDER_CLAIM_HOLD_SECONDS:
                    # A slow provider: give the rest back before the dispatcher would think
                    # this worker dead (REMINDER_STALE_SENDING_SECONDS) and send them again.
                    rest = [by_pk[r.pk] for r in batch[position:]]
                    counts["released"] = reminder_release(claims=rest)
                    break
                message = compose(reminder, outbox.connection)
                in_flight[outbox.submit(message)] = (reminder, message)
                done = [future for future in in_flight if future.done()]
                if len(in_flight) - len(done) >= window:
                    done = wait(in_flight, return_when=FIRST_COMPLETED).done
                if done:
                    record(done)
        finally:
            while in_flight:
                record(wait(in_flight, return_when=FIRST_COMPLETED).done)
    return counts
