"""The worker's state transitions. A claim (SENDING, with a new ``version``) is taken by one
conditional UPDATE; every later write checks (id, version, SENDING), so a worker that lost its
claim (the dispatcher thought it dead, the task moved) cannot overwrite a newer state."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from tasks.events import reminder_events
from tasks.models import Reminder, ReminderState
from tasks.reminders import gate
from tasks.reminders.sql import states, table, update_returning
from tasks.reminders.wakeups import wake_after_commit
from webhooks.models import EventType

CLAIMABLE = (ReminderState.PENDING, ReminderState.QUEUED)


@dataclass(frozen=True, slots=True)
class Claim:
    pk: int
    version: int
    attempts: int


@dataclass(frozen=True, slots=True)
class Sent:
    claim: Claim
    at: datetime
    message_id: str = ""
    delivery_status: str = "sent"


def reminder_worker_session() -> None:
    """Let this connection's commits return before their WAL flush (PostgreSQL).

    A worker crash cannot lose such a commit; a database crash can lose the last fraction of
    a second of them, and the price is a duplicate email (a SENT mark lost) or a retry (a claim
    lost), never a lost reminder. It makes one UPDATE per email cheap enough for batches of
    thousands a second.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO OFF")


def reminder_claim_due(
    *, limit: int, now: datetime | None = None, due_before: datetime | None = None
) -> list[Claim]:
    """Claim up to ``limit`` due reminders for sending, with one conditional UPDATE.

    A reminder is claimable while PENDING or QUEUED with ``due_at`` reached (or before
    ``due_before``: the sweeper takes only overdue ones): one that was rescheduled, cancelled,
    deleted or already claimed does not match, so a stale wake-up claims nothing. Concurrent
    claimers get disjoint rows (SKIP LOCKED on PostgreSQL; SQLite serializes writers). Only
    owners with a verified address, and within their email caps (tasks.reminders.gate): the
    send loop never sees the others.
    """
    now = now or timezone.now()
    due_before = due_before or now
    lock = " FOR UPDATE OF r SKIP LOCKED" if connection.vendor == "postgresql" else ""
    reminders = table()
    rows = update_returning(
        f"UPDATE {reminders} SET state = 'SENDING', attempts = attempts + 1,"
        f" version = version + 1, claimed_at = %s, updated_at = %s, waiting_reason = ''"
        f" WHERE id IN (SELECT r.id FROM {reminders} r WHERE r.state IN ({states(CLAIMABLE)})"
        f" AND r.due_at <= %s AND {gate.owner_verified_sql('r')}"
        f" ORDER BY r.due_at LIMIT %s{lock})"
        f" AND state IN ({states(CLAIMABLE)})"
        f" RETURNING id, version, attempts",
        [now, now, due_before, limit],
    )
    return gate.hold_over_cap([Claim(*row) for row in rows], now=now)


def reminder_mark_sent(*, sent: Sent, events: bool = True) -> bool:
    """The provider accepted this email: SENT, committed at once, if the claim still holds.
    Returns whether it did.

    ``events=False`` (no endpoint of the owner listens for reminder.sent: the caller asked
    ``webhooks.events.owners_listening``) writes no outbox row: one UPDATE in autocommit,
    which is all that stands between the provider's acceptance and the committed mark."""
    reminders = table()
    mark = (
        f"UPDATE {reminders} SET state = 'SENT', sent_at = %s, updated_at = %s,"
        f" message_id = %s, delivery_status = %s, last_error = ''"
        f" WHERE id = %s AND version = %s AND state = 'SENDING' RETURNING id"
    )
    params = [
        sent.at,
        sent.at,
        sent.message_id[:255],
        sent.delivery_status[:32],
        sent.claim.pk,
        sent.claim.version,
    ]
    if not events:
        return bool(update_returning(mark, params))
    with transaction.atomic():
        rows = update_returning(mark, params)
        reminder_events(EventType.REMINDER_SENT, [row[0] for row in rows])
    return bool(rows)


def reminder_release(*, claims: Sequence[Claim]) -> int:
    """Give claims back unsent (the batch ran long): QUEUED again, the attempt not counted."""
    if not claims:
        return 0
    now = timezone.now()
    held = Q()
    for claim in claims:
        held |= Q(pk=claim.pk, version=claim.version)
    released = Reminder.objects.filter(held, state=ReminderState.SENDING).update(
        state=ReminderState.QUEUED,
        attempts=F("attempts") - 1,
        version=F("version") + 1,
        queued_at=now,
        updated_at=now,
    )
    if released:
        wake_after_commit([now])
    return released


def reminder_mark_failed(*, claim: Claim, error: str, permanent: bool) -> datetime | None:
    """Record a failed attempt. Returns the retry moment, or None when the reminder is FAILED
    (a permanent error, or the last attempt)."""
    now = timezone.now()
    if permanent or claim.attempts >= settings.REMINDER_MAX_ATTEMPTS:
        with transaction.atomic():
            if _finish(claim, state=ReminderState.FAILED, last_error=error):
                reminder_events(EventType.REMINDER_FAILED, [claim.pk])
        return None
    backoff_ms = settings.REMINDER_RETRY_BACKOFF_MS * 2 ** (claim.attempts - 1)
    retry_at = now + timedelta(milliseconds=min(backoff_ms, 3_600_000))
    updated = _finish(
        claim,
        state=ReminderState.QUEUED,
        due_at=retry_at,
        queued_at=now,
        last_error=error,
        version=F("version") + 1,
    )
    if updated:
        wake_after_commit([retry_at])
    return retry_at if updated else None


def _finish(claim: Claim, **changes) -> bool:
    """Write the outcome of a claim, only if the claim still holds."""
    changes.setdefault("updated_at", timezone.now())
    return bool(
        Reminder.objects.filter(
            pk=claim.pk, version=claim.version, state=ReminderState.SENDING
        ).update(**changes)
    )
