"""Claim due reminders, send their emails, record each outcome.

The loop belongs to the reminder's state machine (claim, release, retry or fail), so it lives
here; what the email says is the caller's: ``deliver_batch`` takes the composer as a parameter
(the actor passes ``jobs.emails.reminder_email``), so this module imports nothing from jobs.
"""

import smtplib
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime
from queue import Empty, SimpleQueue

import requests
import structlog
from anymail.backends.base_requests import AnymailRequestsBackend
from anymail.exceptions import (
    AnymailAPIError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
)
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection as db_connection
from django.utils import timezone
from requests.adapters import HTTPAdapter

from core.metrics import DELIVERIES, LATENESS
from tasks.models import Reminder
from tasks.reminders.claims import (
    Claim,
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


class Outbox:
    """One batch's way to the provider: one open connection, and sender threads that keep
    ``concurrency`` emails in flight on it while the batch's own thread composes the next
    emails and records the outcomes.

    Django's SMTP backend and Anymail's both close a connection they opened themselves inside
    ``send_messages``: opening it here first is what keeps one SMTP connection (one HTTP
    session) for the whole batch. An SMTP connection carries one email at a time; an HTTP
    session's connection pool carries ``REMINDER_HTTP_CONCURRENCY`` requests at once.
    """

    def __init__(self, *, on_accepted: Callable[[Claim, EmailMessage], None] | None = None):
        self.on_accepted = on_accepted
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
            logger.warning("email_connection_failed", error=_describe(exc))
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

    def submit(self, claim: Claim, message) -> Future:
        """Send in a sender thread; the future gives (error or None, seconds the send took)."""
        return self.pool.submit(self._send, claim, message)

    def _send(self, claim: Claim, message) -> tuple[Exception | None, float]:
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
        if self.on_accepted is not None:
            self.on_accepted(claim, message)
        return None, time.monotonic() - started


class MarkRecorder:
    """Commits SENT marks from a thread (and database connection) of its own, the moment a
    sender thread reports the provider's acceptance: the duplicate window is this hand-off and
    one UPDATE, whatever the batch's thread is doing meanwhile. Marks that arrive together
    share the UPDATE. One recorder serves every batch of the process; it closes its connection
    after a second without marks.

    Only for a batch in autocommit (a worker): inside a transaction (a test, a caller's atomic
    block) another connection could not see the batch's claims, and the batch's own thread
    writes the marks.
    """

    IDLE_CLOSE_S = 1.0
    _shared: "MarkRecorder | None" = None
    _shared_lock = threading.Lock()

    @classmethod
    def shared(cls) -> "MarkRecorder":
        with cls._shared_lock:
            if cls._shared is None or not cls._shared.thread.is_alive():
                cls._shared = cls()
            return cls._shared

    def __init__(self) -> None:
        self.queue: SimpleQueue[tuple[Sent, Ticket]] = SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="reminder-record", daemon=True)
        self.thread.start()

    def add(self, ticket: "Ticket", claim: Claim, message) -> None:
        message_id, status = _provider_message_id(message)
        ticket.expect()
        self.queue.put((Sent(claim, timezone.now(), message_id, status), ticket))

    def _run(self) -> None:
        while True:
            try:
                first = self.queue.get(timeout=self.IDLE_CLOSE_S)
            except Empty:
                db_connection.close()
                first = self.queue.get()
            items = [first]
            while not self.queue.empty():
                items.append(self.queue.get())
            try:
                if db_connection.connection is None:  # (re)connecting: set the session up
                    reminder_worker_session()
                reminder_mark_sent(sent=[sent for sent, _ in items])
            except Exception:
                # The database is unreachable: these claims go stale and are sent again
                # (duplicates), which is all a lost write can cost.
                logger.exception("reminder_marks_not_recorded", count=len(items))
                db_connection.close()
            for _, ticket in items:
                ticket.recorded()


class Ticket:
    """One batch's marks in the recorder: the batch waits for them before it returns."""

    def __init__(self) -> None:
        self.outstanding = 0
        self.condition = threading.Condition()

    def expect(self) -> None:
        with self.condition:
            self.outstanding += 1

    def recorded(self) -> None:
        with self.condition:
            self.outstanding -= 1
            self.condition.notify_all()

    def wait(self) -> None:
        with self.condition:
            self.condition.wait_for(lambda: self.outstanding == 0)


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
    a few in flight, and records the failures; each email the provider accepted is marked SENT
    by the recorder thread the moment its sender reports it, so a crash can double only the
    emails accepted and not yet recorded: the duplicate window.
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
            logger.warning("next_batch_not_handed_on", error=_describe(exc))
    claimed = time.monotonic()
    by_pk = {claim.pk: claim for claim in claims}
    batch = reminders_for_delivery(pks=by_pk)
    in_flight: dict[Future, tuple] = {}
    recorder = None if db_connection.in_atomic_block else MarkRecorder.shared()
    ticket = Ticket()

    def record(done: Iterable[Future]) -> None:
        sent = []
        for future in done:
            reminder, message = in_flight.pop(future)
            error, _ = future.result()
            claim = by_pk[reminder.pk]
            if error is None:
                message_id, status = _provider_message_id(message)
                now = timezone.now()
                if recorder is None:
                    sent.append(Sent(claim, now, message_id, status))
                counts["sent"] += 1
                lateness = (now - reminder.remind_at).total_seconds()
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
                continue
            retry_at = reminder_mark_failed(
                claim=claim, error=_describe(error), permanent=is_permanent(error)
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
                error=_describe(error),
            )
        reminder_mark_sent(sent=sent)

    def on_accepted(claim: Claim, message) -> None:
        recorder.add(ticket, claim, message)

    with Outbox(on_accepted=on_accepted if recorder else None) as outbox:
        window = 2 * outbox.concurrency
        try:
            for position, reminder in enumerate(batch):
                if position and time.monotonic() - claimed > settings.REMINDER_CLAIM_HOLD_SECONDS:
                    # A slow provider: give the rest back before the dispatcher would think
                    # this worker dead (REMINDER_STALE_SENDING_SECONDS) and send them again.
                    rest = [by_pk[r.pk] for r in batch[position:]]
                    counts["released"] = reminder_release(claims=rest)
                    DELIVERIES.labels("released").inc(counts["released"])
                    logger.info(
                        "reminders_released",
                        reminder_ids=[claim.pk for claim in rest],
                        released=counts["released"],
                    )
                    break
                try:
                    message = compose(reminder, outbox.connection)
                except Exception as exc:
                    # An email that cannot be built fails like a refused one (a bad address
                    # is permanent), recorded through the same path, not the whole batch.
                    failed: Future = Future()
                    failed.set_result((exc, None))
                    in_flight[failed] = (reminder, None)
                else:
                    in_flight[outbox.submit(by_pk[reminder.pk], message)] = (reminder, message)
                done = [future for future in in_flight if future.done()]
                if len(in_flight) - len(done) >= window:
                    done = wait(in_flight, return_when=FIRST_COMPLETED).done
                if done:
                    record(done)
        finally:
            while in_flight:
                record(wait(in_flight, return_when=FIRST_COMPLETED).done)
            ticket.wait()
    return counts
