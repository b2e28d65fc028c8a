"""Reminders: writes, reads and state transitions. The database is the source of truth; broker
messages only wake a worker up at a moment, and the worker then claims whatever is due.

States move forward: PENDING -> QUEUED -> SENDING -> SENT | FAILED | CANCELLED. Two moves go
back on purpose and bump ``version``: re-arming (the task moved, so a relative reminder waits
for its new time) and a retry (a transient failure or a stalled worker puts SENDING back to
QUEUED with a later ``due_at``).

Background work is scheduled through one seam, ``_wake_after_commit``: after the transaction
commits it hands the due moments to ``jobs.wakeups``. It imports jobs lazily, so importing this
module never imports Dramatiq actors (and jobs, which imports this module, forms no cycle).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone

from tasks.models import Reminder, ReminderState, Task, TaskStatus
from users.models import User

ACTIVE = (ReminderState.PENDING, ReminderState.QUEUED, ReminderState.SENDING)
CLAIMABLE = (ReminderState.PENDING, ReminderState.QUEUED)
MAX_MINUTES_BEFORE = 60 * 24 * 366


# Reads


def reminder_visible(*, user: User) -> QuerySet[Reminder]:
    if not user.is_authenticated:
        return Reminder.objects.none()
    return Reminder.objects.filter(task__owner_id=user.pk)


def reminder_get(*, user: User, pk: int) -> Reminder:
    """The user's reminder with this primary key; Reminder.DoesNotExist otherwise."""
    return reminder_visible(user=user).select_related("task").get(pk=pk)


def reminders_for_delivery(*, pks: Iterable[int]) -> list[Reminder]:
    """Reminders with everything their email shows, in three queries whatever their number."""
    open_pre_tasks = Task.objects.filter(status=TaskStatus.OPEN).order_by("scheduled_at", "id")
    return list(
        Reminder.objects.filter(pk__in=list(pks))
        .select_related("task__owner")
        .prefetch_related(Prefetch("task__pre_tasks", open_pre_tasks, to_attr="open_pre_tasks"))
        .order_by("due_at", "id")
    )


# Writes called by the API


def _check_future(remind_at: datetime, now: datetime) -> None:
    if remind_at <= now:
        raise ValidationError(
            "Reminder time must be in the future (it is %(at)s, now is %(now)s).",
            code="in_past",
            params={
                "at": remind_at.isoformat(timespec="seconds"),
                "now": now.isoformat(timespec="seconds"),
            },
        )


def reminder_add(
    *, task: Task, at: datetime | None = None, minutes_before: int | None = None
) -> Reminder:
    """A reminder at an absolute moment (``at``) or ``minutes_before`` the task's scheduled time."""
    now = timezone.now()
    if (at is None) == (minutes_before is None):
        raise ValidationError("Give exactly one of at and minutesBefore.", code="one_of")
    if task.status == TaskStatus.DONE:
        raise ValidationError(
            {"task_id": ValidationError("The task is done: it needs no reminder.", code="done")}
        )
    if at is not None:
        if timezone.is_naive(at):
            raise ValidationError(
                {
                    "at": ValidationError(
                        "Reminder time needs a UTC offset, e.g. 2030-01-31T09:00:00+01:00.",
                        code="naive_datetime",
                    )
                }
            )
        try:
            _check_future(at, now)
        except ValidationError as exc:
            raise ValidationError({"at": exc.error_list}) from None
        remind_at = at.astimezone(UTC)
    else:
        if not 0 <= minutes_before <= MAX_MINUTES_BEFORE:
            raise ValidationError(
                {
                    "minutes_before": ValidationError(
                        "Minutes before must be between 0 and %(limit)d.",
                        code="out_of_range",
                        params={"limit": MAX_MINUTES_BEFORE},
                    )
                }
            )
        if task.scheduled_at is None:
            raise ValidationError(
                {
                    "minutes_before": ValidationError(
                        "The task has no scheduled time to count back from.",
                        code="unscheduled",
                    )
                }
            )
        remind_at = task.scheduled_at - timedelta(minutes=minutes_before)
        try:
            _check_future(remind_at, now)
        except ValidationError as exc:
            raise ValidationError({"minutes_before": exc.error_list}) from None

    with transaction.atomic():
        reminder = Reminder.objects.create(
            task=task, remind_at=remind_at, due_at=remind_at, minutes_before=minutes_before
        )
        _queue_if_near([reminder], now)
    return reminder


def reminder_delete(*, reminder: Reminder) -> None:
    # A wake-up message already sent finds nothing to claim.
    reminder.delete()


# Reminders following their task (called by tasks.services inside their transaction)


def reminders_after_task_create(*, task: Task) -> None:
    """A scheduled task gets a reminder at its scheduled time, if that is still ahead."""
    now = timezone.now()
    if task.scheduled_at is None or task.scheduled_at <= now:
        return
    reminder = Reminder.objects.create(
        task=task, remind_at=task.scheduled_at, due_at=task.scheduled_at, minutes_before=0
    )
    _queue_if_near([reminder], now)


def reminders_after_reschedule(*, task: Task) -> None:
    """Relative reminders move with the task; those whose new time has passed (or whose task
    lost its time) are cancelled. Moving re-arms a reminder already sent or failed, so the new
    time gets its own email. Absolute reminders stay."""
    if task.status == TaskStatus.DONE:
        return  # its unsent reminders were cancelled on completion; a done task needs none
    now = timezone.now()
    relative = Reminder.objects.filter(task=task, minutes_before__isnull=False).exclude(
        state=ReminderState.CANCELLED
    )
    if task.scheduled_at is None:
        relative.filter(state__in=ACTIVE).update(
            state=ReminderState.CANCELLED, version=F("version") + 1, updated_at=now
        )
        return
    moved = []
    for reminder in relative.select_for_update():
        remind_at = task.scheduled_at - timedelta(minutes=reminder.minutes_before)
        if remind_at == reminder.remind_at:
            continue
        if remind_at <= now:
            if reminder.state in ACTIVE:
                reminder.state = ReminderState.CANCELLED
                reminder.version += 1
                reminder.save(update_fields=["state", "version", "updated_at"])
            continue
        reminder.remind_at = reminder.due_at = remind_at
        reminder.state = ReminderState.PENDING
        reminder.version += 1
        reminder.attempts = 0
        reminder.queued_at = reminder.claimed_at = reminder.sent_at = None
        reminder.message_id = reminder.delivery_status = reminder.last_error = ""
        reminder.save()
        moved.append(reminder)
    _queue_if_near(moved, now)


def reminders_cancel(*, task: Task) -> int:
    """Cancel the task's reminders that have not been sent yet (the task is done)."""
    return Reminder.objects.filter(task=task, state__in=ACTIVE).update(
        state=ReminderState.CANCELLED, version=F("version") + 1, updated_at=timezone.now()
    )


# The seam to background work


def _horizon(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.REMINDER_HORIZON_SECONDS)


def _queue_if_near(reminders: list[Reminder], now: datetime) -> None:
    near = [r for r in reminders if r.due_at <= _horizon(now)]
    if not near:
        return
    Reminder.objects.filter(pk__in=[r.pk for r in near], state=ReminderState.PENDING).update(
        state=ReminderState.QUEUED, queued_at=now
    )
    for reminder in near:
        reminder.state, reminder.queued_at = ReminderState.QUEUED, now
    _wake_after_commit([r.due_at for r in near])


def _wake_after_commit(moments: list[datetime]) -> None:
    if moments:
        transaction.on_commit(lambda: _wake(moments))


def _wake(moments: list[datetime]) -> None:
    # Imported here, after the commit: tasks never imports Dramatiq actors at import time.
    from jobs.wakeups import wake_at

    wake_at(moments)


# State transitions used by the worker and the dispatcher


def _table() -> str:
    return connection.ops.quote_name(Reminder._meta.db_table)


def _update_returning(sql: str, params: list) -> list[tuple]:
    params = [
        connection.ops.adapt_datetimefield_value(p) if isinstance(p, datetime) else p
        for p in params
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _states(states: Iterable[str]) -> str:
    return ", ".join(f"'{state}'" for state in states)


@dataclass(frozen=True, slots=True)
class Claim:
    pk: int
    version: int
    attempts: int


def reminder_claim_due(*, limit: int, now: datetime | None = None) -> list[Claim]:
    """Claim up to ``limit`` due reminders for sending, with one conditional UPDATE.

    A reminder is claimable while PENDING or QUEUED with ``due_at`` reached: one that was
    rescheduled, cancelled, deleted or already claimed does not match, so a stale wake-up
    claims nothing. Concurrent claimers get disjoint rows (SKIP LOCKED on PostgreSQL; SQLite
    serializes writers).
    """
    now = now or timezone.now()
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    table = _table()
    rows = _update_returning(
        f"UPDATE {table} SET state = 'SENDING', attempts = attempts + 1, version = version + 1,"
        f" claimed_at = %s, updated_at = %s"
        f" WHERE id IN (SELECT id FROM {table} WHERE state IN ({_states(CLAIMABLE)})"
        f" AND due_at <= %s ORDER BY due_at LIMIT %s{lock})"
        f" AND state IN ({_states(CLAIMABLE)})"
        f" RETURNING id, version, attempts",
        [now, now, now, limit],
    )
    return [Claim(*row) for row in rows]


def _finish(claim: Claim, **changes) -> bool:
    """Write the outcome of a claim, only if the claim still holds."""
    changes.setdefault("updated_at", timezone.now())
    return bool(
        Reminder.objects.filter(
            pk=claim.pk, version=claim.version, state=ReminderState.SENDING
        ).update(**changes)
    )


@dataclass(frozen=True, slots=True)
class Sent:
    claim: Claim
    at: datetime
    message_id: str = ""
    delivery_status: str = "sent"


def reminder_mark_sent(*, sent: Sequence[Sent]) -> int:
    """The provider accepted these emails: one UPDATE for all of them, committed at once.
    Each row changes only if its claim still holds. Returns how many rows changed."""
    if not sent:
        return 0
    if connection.vendor != "postgresql":
        return sum(len(_mark_sent_rows([item])) for item in sent)
    return len(_mark_sent_rows(sent))


def _mark_sent_rows(sent: Sequence[Sent]) -> list[tuple]:
    table = _table()
    if connection.vendor != "postgresql":
        [item] = sent
        return _update_returning(
            f"UPDATE {table} SET state = 'SENT', sent_at = %s, updated_at = %s,"
            f" message_id = %s, delivery_status = %s, last_error = ''"
            f" WHERE id = %s AND version = %s AND state = 'SENDING' RETURNING id",
            [
                item.at,
                item.at,
                item.message_id[:255],
                item.delivery_status[:32],
                item.claim.pk,
                item.claim.version,
            ],
        )
    values = ", ".join(
        ["(%s::bigint, %s::integer, %s::timestamptz, %s::text, %s::text)"] * len(sent)
    )
    params = []
    for item in sent:
        params += [
            item.claim.pk,
            item.claim.version,
            item.at,
            item.message_id[:255],
            item.delivery_status[:32],
        ]
    return _update_returning(
        f"UPDATE {table} AS r SET state = 'SENT', sent_at = v.sent_at, updated_at = v.sent_at,"
        f" message_id = v.message_id, delivery_status = v.status, last_error = ''"
        f" FROM (VALUES {values}) AS v(id, version, sent_at, message_id, status)"
        f" WHERE r.id = v.id AND r.version = v.version AND r.state = 'SENDING' RETURNING r.id",
        params,
    )


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
        _wake_after_commit([now])
    return released


def reminder_mark_failed(*, claim: Claim, error: str, permanent: bool) -> datetime | None:
    """Record a failed attempt. Returns the retry moment, or None when the reminder is FAILED
    (a permanent error, or the last attempt)."""
    now = timezone.now()
    if permanent or claim.attempts >= settings.REMINDER_MAX_ATTEMPTS:
        _finish(claim, state=ReminderState.FAILED, last_error=error)
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
        _wake_after_commit([retry_at])
    return retry_at if updated else None


def reminder_dispatch(*, now: datetime | None = None, restart: bool = False) -> int:
    """The periodic dispatcher: queue what comes within the horizon, re-queue what was lost.

    Safe to run twice at once (each step is a conditional UPDATE: a row moves for one run only)
    and after missed runs (it looks at everything due up to the horizon, however old).
    ``restart=True`` treats every QUEUED or SENDING row as lost: used when the process that
    held the messages (the embedded worker) has just started. Returns how many rows it woke.
    """
    now = now or timezone.now()
    table = _table()
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
        _update_returning(
            f"UPDATE {table} SET state = 'FAILED', updated_at = %s, version = version + 1,"
            f" last_error = 'The worker stopped while sending, at the last attempt.'"
            f" WHERE state = 'SENDING' AND claimed_at < %s AND attempts >= %s RETURNING id",
            [now, stale_before, settings.REMINDER_MAX_ATTEMPTS],
        )
        rows = _update_returning(
            f"UPDATE {table} SET state = 'QUEUED', queued_at = %s, updated_at = %s,"
            f" version = version + 1, last_error = 'The worker stopped while sending.'"
            f" WHERE state = 'SENDING' AND claimed_at < %s RETURNING due_at",
            [now, now, stale_before],
        )
        moments += [row[0] for row in rows]
        rows = _update_returning(
            f"UPDATE {table} SET state = 'QUEUED', queued_at = %s, updated_at = %s"
            f" WHERE state = 'PENDING' AND due_at <= %s RETURNING due_at",
            [now, now, _horizon(now)],
        )
        moments += [row[0] for row in rows]
        # Queued, due a while ago and still not claimed: its message was lost (a wiped Redis,
        # a killed worker holding it in memory). Touching queued_at lets one run re-queue it.
        rows = _update_returning(
            f"UPDATE {table} SET queued_at = %s, updated_at = %s"
            f" WHERE state = 'QUEUED' AND queued_at < %s"
            f" AND (due_at < %s OR %s) AND due_at <= %s RETURNING due_at",
            [now, now, queued_before, lost_before, restart, _horizon(now)],
        )
        moments += [row[0] for row in rows]
        _wake_after_commit([_aware(m) for m in moments])
    return len(moments)


def _aware(moment) -> datetime:
    # Raw SQLite rows come back as naive UTC datetimes (or strings on old drivers).
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if timezone.is_naive(moment) else moment


def reminder_delivery_update(*, message_id: str, status: str) -> int:
    """A provider's tracking event: the delivery status of the reminder it names, moving
    forward only (a late 'delivered' does not hide an 'opened')."""
    rank = DELIVERY_RANK.get(status, 0)
    lower = [name for name, value in DELIVERY_RANK.items() if value < rank]
    return (
        Reminder.objects.filter(message_id=message_id)
        .filter(Q(delivery_status__in=lower) | Q(delivery_status=""))
        .update(delivery_status=status, updated_at=timezone.now())
    )


DELIVERY_RANK = {
    "queued": 1,
    "sent": 2,
    "deferred": 3,
    "delivered": 4,
    "autoresponded": 4,
    "opened": 5,
    "clicked": 6,
    "bounced": 7,
    "rejected": 7,
    "failed": 7,
    "complained": 8,
    "unsubscribed": 8,
}
