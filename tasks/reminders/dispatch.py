"""The periodic dispatcher (every minute): queue what comes within the horizon, re-queue what
was lost. Run by ``jobs.actors.dispatch_reminders`` and by the embedded worker's thread."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tasks.reminders import gate
from tasks.reminders.sql import aware, table, update_returning
from tasks.reminders.wakeups import horizon, wake_after_commit


def reminder_dispatch(*, now: datetime | None = None, restart: bool = False) -> int:
    """Queue what comes within the horizon, re-queue what was lost.

    Safe to run twice at once (each step is a conditional UPDATE: a row moves for one run only)
    and after missed runs (it looks at everything due up to the horizon, however old).
    ``restart=True`` treats every QUEUED or SENDING row as lost: used when the process that
    held the messages (the embedded worker) has just started. Returns how many rows it woke.
    """
    now = now or timezone.now()
    reminders = table()
    lost_before = now - timedelta(seconds=settings.REMINDER_LOST_AFTER_SECONDS)
    stale_before = now - timedelta(seconds=settings.REMINDER_STALE_SENDING_SECONDS)
    queued_before = lost_before
    if restart:
        # Everything in flight belonged to the process that just started: all of it is lost.
        # (Rows this run touches get queued_at = now, so they are not woken twice.)
        queued_before, stale_before = now, now + timedelta(days=36500)
    moments: list[datetime] = []
    with transaction.atomic():
        # A worker died (or stalled) after claiming: the attempt counts, the reminder retries.
        # The duplicate window is this one: the provider accepted, the worker died before its
        # commit. Past the last attempt it is FAILED, visibly.
        update_returning(
            f"UPDATE {reminders} SET state = 'FAILED', updated_at = %s, version = version + 1,"
            f" last_error = 'The worker stopped while sending, at the last attempt.'"
            f" WHERE state = 'SENDING' AND claimed_at < %s AND attempts >= %s RETURNING id",
            [now, stale_before, settings.REMINDER_MAX_ATTEMPTS],
        )
        rows = update_returning(
            f"UPDATE {reminders} SET state = 'QUEUED', queued_at = %s, updated_at = %s,"
            f" version = version + 1, last_error = 'The worker stopped while sending.'"
            f" WHERE state = 'SENDING' AND claimed_at < %s RETURNING due_at",
            [now, now, stale_before],
        )
        moments += [row[0] for row in rows]
        # Reminders of unverified owners wait, unqueued, until the address is verified.
        verified = gate.owner_verified_sql(reminders)
        gate.expire_unverified(now=now)
        rows = update_returning(
            f"UPDATE {reminders} SET state = 'QUEUED', queued_at = %s, updated_at = %s"
            f" WHERE state = 'PENDING' AND due_at <= %s AND {verified} RETURNING due_at",
            [now, now, horizon(now)],
        )
        moments += [row[0] for row in rows]
        # Queued, due a while ago and still not claimed: its message was lost (a wiped Redis,
        # a killed worker holding it in memory). Touching queued_at lets one run re-queue it.
        rows = update_returning(
            f"UPDATE {reminders} SET queued_at = %s, updated_at = %s"
            f" WHERE state = 'QUEUED' AND queued_at < %s"
            f" AND (due_at < %s OR %s) AND due_at <= %s AND {verified} RETURNING due_at",
            [now, now, queued_before, lost_before, restart, horizon(now)],
        )
        moments += [row[0] for row in rows]
        wake_after_commit([aware(m) for m in moments])
    return len(moments)
