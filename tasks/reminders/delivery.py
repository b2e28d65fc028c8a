"""Claim due reminders, send their emails, record each outcome.

The loop belongs to the reminder's state machine (claim, release, retry or fail), so it lives
here; what the email says is the caller's: ``deliver_batch`` takes the composer as a parameter
(the actor passes ``jobs.emails.reminder_email``), so this module imports nothing from jobs.

In a worker, a batch's thread claims, loads and composes; the process's sender threads
(``SenderPool``, ``REMINDER_SEND_THREADS`` of them, shared by every batch) each keep one open
connection to the provider and one to the database, send an email and mark it SENT on their
own connection the moment the provider accepts it. That hand-off-free path, from the
provider's answer to the committed mark, is the whole duplicate window: a worker killed inside
it has sent an email it did not record, and the email goes out again after recovery.
"""

import os
import smtplib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
from django.db import InterfaceError, OperationalError
from django.db import connection as db_connection
from django.utils import timezone

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
from webhooks.events import owners_listening
from webhooks.models import EventType

logger = structlog.get_logger(__name__)

NO_DEADLINE = float("inf")

# Provider answers that will not change on a retry.
PERMANENT_HTTP_STATUSES = {400, 413, 422}


# The email for a reminder loaded by ``reminders_for_delivery``.
Composer = Callable[[Reminder], EmailMessage]


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


class Mailer:
    """One open connection to the provider (an SMTP connection, or an API provider's HTTP
    session with its keep-alive connection), opened on first use and kept for every email
    after it.

    Django's SMTP backend and Anymail's both close, inside ``send_messages``, a connection
    they opened themselves: opening it here first is what keeps it. An SMTP exchange that
    failed may leave the connection unusable, so it is reopened for the next email; an HTTP
    session replaces broken connections by itself.
    """

    def __init__(self) -> None:
        self.backend = get_connection(fail_silently=False)
        self.session_based = isinstance(self.backend, AnymailRequestsBackend)
        self.is_open = False

    def send(self, message: EmailMessage) -> None:
        if not self.is_open:
            self.backend.open()
            self.is_open = True
            if self.session_based:
                _settle_environment(self.backend.session, self.backend.api_url)
        try:
            self.backend.send_messages([message])
        except Exception:
            if not self.session_based:
                self.close()
            raise

    def close(self) -> None:
        if self.is_open:
            self.is_open = False
            try:
                self.backend.close()
            except Exception as exc:
                logger.warning("email_connection_close_failed", error=_describe(exc))


def _settle_environment(session: requests.Session, url: str) -> None:
    """Read the proxy and CA-bundle variables once for the session's life instead of on every
    request (requests does that, netrc file lookups included, while ``trust_env`` is on: about
    a tenth of the worker's time per email). The same variables are honoured."""
    session.proxies.update(requests.utils.get_environ_proxies(url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle and session.verify is True:
        session.verify = bundle
    session.trust_env = False


@dataclass(eq=False, slots=True)
class Job:
    """One email of a batch, and what became of it."""

    claim: Claim
    reminder: Reminder
    message: EmailMessage | None
    # Whether some webhook endpoint of the owner listens for reminder.sent: only then does the
    # SENT mark need the events query and a transaction of its own.
    events: bool = False
    # Past this moment (time.monotonic) the email is not sent but given back.
    deadline: float = NO_DEADLINE
    finished: SimpleQueue | None = None
    error: Exception | None = None
    sent: Sent | None = None
    released: bool = False
    seconds: float = 0.0


def _deliver(job: Job, mailer: Mailer) -> None:
    """Send one email and, if the provider accepted it, mark it SENT at once on this thread's
    database connection."""
    if job.message is None:
        return  # the composer failed: job.error says why
    started = time.monotonic()
    if started > job.deadline:
        job.released = True
        return
    try:
        mailer.send(job.message)
    except Exception as exc:
        job.error = exc
        job.seconds = time.monotonic() - started
        return
    message_id, status = _provider_message_id(job.message)
    job.sent = Sent(job.claim, timezone.now(), message_id, status)
    job.seconds = time.monotonic() - started
    _record_sent(job)


def _record_sent(job: Job) -> None:
    for attempt in (1, 2):
        try:
            if db_connection.connection is None:  # (re)connecting: set the session up
                reminder_worker_session()
            reminder_mark_sent(sent=job.sent, events=job.events)
            return
        except (OperationalError, InterfaceError):
            if db_connection.in_atomic_block or attempt == 2:
                # The database is unreachable: this claim goes stale and the email is sent
                # again (a duplicate), which is all a lost write can cost.
                logger.exception("reminder_mark_not_recorded", reminder_id=job.claim.pk)
                return
            db_connection.close()  # a connection the database dropped: one more try


class SenderPool:
    """The worker process's sender threads, shared by all its batches (and its sweeper).

    Each thread owns a ``Mailer`` and, through Django, a database connection of its own; both
    are closed after a second without emails. A batch puts its jobs on the queue and takes
    them back, done, from its own ``finished`` queue.
    """

    IDLE_CLOSE_S = 1.0
    _shared: "SenderPool | None" = None
    _shared_lock = threading.Lock()

    @classmethod
    def shared(cls) -> "SenderPool":
        with cls._shared_lock:
            pool = cls._shared
            if pool is None or pool.pid != os.getpid() or not pool.alive():
                pool = cls._shared = cls(settings.REMINDER_SEND_THREADS)
            return pool

    def __init__(self, size: int) -> None:
        self.pid = os.getpid()
        self.size = size
        self.queue: SimpleQueue[Job] = SimpleQueue()
        self.threads = [
            threading.Thread(target=self._run, name=f"reminder-send-{n}", daemon=True)
            for n in range(size)
        ]
        for thread in self.threads:
            thread.start()

    def alive(self) -> bool:
        return all(thread.is_alive() for thread in self.threads)

    def submit(self, job: Job) -> None:
        self.queue.put(job)

    def _run(self) -> None:
        mailer = Mailer()
        while True:
            try:
                job = self.queue.get(timeout=self.IDLE_CLOSE_S)
            except Empty:
                mailer.close()
                db_connection.close()
                job = self.queue.get()
            try:
                _deliver(job, mailer)
            except Exception as exc:  # a bug, not a provider's answer: fail this email only
                logger.exception("reminder_send_crashed", reminder_id=job.claim.pk)
                job.error = exc
            finally:
                job.finished.put(job)


@dataclass
class _Outcomes:
    """A batch's counts, and the claims it gives back at the end."""

    counts: dict
    to_release: list[Claim] = field(default_factory=list)

    def record(self, job: Job) -> None:
        reminder, claim = job.reminder, job.claim
        if job.released:
            self.to_release.append(claim)
            return
        if job.error is None:
            self.counts["sent"] += 1
            lateness = (job.sent.at - reminder.remind_at).total_seconds()
            DELIVERIES.labels("sent").inc()
            LATENESS.observe(max(lateness, 0.0))
            logger.info(
                "reminder_delivery",
                reminder_id=reminder.pk,
                task_id=reminder.task_id,
                attempt=claim.attempts,
                outcome="sent",
                provider_message_id=job.sent.message_id,
                lateness_s=round(lateness, 3),
            )
            return
        error = _describe(job.error)
        retry_at = reminder_mark_failed(claim=claim, error=error, permanent=is_permanent(job.error))
        outcome = "retrying" if retry_at else "failed"
        self.counts[outcome] += 1
        DELIVERIES.labels(outcome).inc()
        logger.warning(
            "reminder_delivery",
            reminder_id=reminder.pk,
            task_id=reminder.task_id,
            attempt=claim.attempts,
            outcome=outcome,
            retry_at=retry_at.isoformat() if retry_at else None,
            error=error,
        )

    def release(self) -> None:
        if not self.to_release:
            return
        released = reminder_release(claims=self.to_release)
        self.counts["released"] = released
        DELIVERIES.labels("released").inc(released)
        logger.info(
            "reminders_released",
            reminder_ids=[claim.pk for claim in self.to_release],
            released=released,
        )


def deliver_batch(
    *,
    limit: int,
    compose: Composer,
    on_full_batch: Callable[[], None] | None = None,
    due_before: datetime | None = None,
) -> dict:
    """Claim up to ``limit`` due reminders and send each email ``compose`` makes. Returns counts
    by outcome.

    In a worker the emails go to the process's ``SenderPool``, at most two per sender thread in
    flight from one batch, while this thread composes the next ones and records failures.
    Inside a transaction (a test, a caller's atomic block) other connections could not see the
    claims, so this thread sends and records each email itself, on one connection.

    A batch still sending after ``REMINDER_CLAIM_HOLD_SECONDS`` gives the rest back (QUEUED,
    attempt not counted) before the dispatcher would think this worker dead
    (``REMINDER_STALE_SENDING_SECONDS``) and send them again; its first email always goes.
    """
    reminder_worker_session()
    claims = reminder_claim_due(limit=limit, due_before=due_before)
    outcomes = _Outcomes(
        {"claimed": len(claims), "sent": 0, "retrying": 0, "failed": 0, "released": 0}
    )
    if not claims:
        return outcomes.counts
    if len(claims) == limit and on_full_batch is not None:
        try:
            on_full_batch()
        except Exception as exc:
            # The broker is down: this batch goes on, the sweeper takes what is left.
            logger.warning("next_batch_not_handed_on", error=_describe(exc))
    deadline = time.monotonic() + settings.REMINDER_CLAIM_HOLD_SECONDS
    by_pk = {claim.pk: claim for claim in claims}
    batch = reminders_for_delivery(pks=by_pk)
    listened = owners_listening(EventType.REMINDER_SENT, {r.task.owner_id for r in batch})
    inline = db_connection.in_atomic_block
    mailer = Mailer() if inline else None
    pool = None if inline else SenderPool.shared()
    finished: SimpleQueue[Job] = SimpleQueue()
    window = 2 * (pool.size if pool else 1)
    outstanding = 0
    try:
        for position, reminder in enumerate(batch):
            job = Job(
                claim=by_pk[reminder.pk],
                reminder=reminder,
                message=None,
                events=reminder.task.owner_id in listened,
                deadline=deadline if position else NO_DEADLINE,
                finished=finished,
            )
            if position and time.monotonic() > deadline:
                job.released = True  # not even composed
            else:
                try:
                    job.message = compose(reminder)
                except Exception as exc:
                    # An email that cannot be built fails like a refused one (a bad address
                    # is permanent), recorded through the same path, not the whole batch.
                    job.error = exc
            if pool is None or job.message is None or job.released:
                if mailer is not None:
                    _deliver(job, mailer)
                outcomes.record(job)
                continue
            pool.submit(job)
            outstanding += 1
            while outstanding and (outstanding >= window or not finished.empty()):
                outcomes.record(finished.get())
                outstanding -= 1
    finally:
        while outstanding:
            outcomes.record(finished.get())
            outstanding -= 1
        if mailer is not None:
            mailer.close()
        outcomes.release()
    return outcomes.counts
