"""Who may get a reminder email now: decided when reminders are claimed (``claims``) and
queued (``dispatch``), not in the send loop.

- Only owners with a verified address (users.User.email_verified_at). A reminder of an
  unverified owner is never claimed: it waits (waitingReason EMAIL_UNVERIFIED), goes out once
  the address is verified, and fails visibly if it is still waiting
  REMINDER_UNVERIFIED_EXPIRY_SECONDS after its time.
- At most REMINDER_EMAILS_PER_HOUR and REMINDER_EMAILS_PER_DAY reminder emails per owner
  (sliding windows, counting emails sent and claims in flight). Claims over the cap are handed
  back at once, PENDING until the window frees, with waitingReason EMAIL_LIMIT.

Two workers claiming the same owner's reminders in the same instant each count the other's
claims only once they are written, so the cap can be passed by at most one concurrent batch.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, Min, Q
from django.db.models.functions import Coalesce

from tasks.models import Reminder, ReminderState, Task
from users.models import User

EMAIL_LIMIT = "EMAIL_LIMIT"
EMAIL_UNVERIFIED = "EMAIL_UNVERIFIED"
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def owner_verified_sql(alias: str) -> str:
    """SQL condition: the owner of reminder row `alias` has a verified address."""
    quote = connection.ops.quote_name
    task, user = Task._meta, User._meta
    return (
        f"EXISTS (SELECT 1 FROM {quote(task.db_table)} gate_t"
        f" JOIN {quote(user.db_table)} gate_u"
        f" ON gate_u.{quote(user.pk.column)} = gate_t.{quote(task.get_field('owner').column)}"
        f" WHERE gate_t.{quote(task.pk.column)} = {alias}.{quote('task_id')}"
        f" AND gate_u.{quote(user.get_field('email_verified_at').column)} IS NOT NULL)"
    )


def waiting_reason(reminder: Reminder, *, owner: User) -> str | None:
    """Why a reminder that has not gone out is waiting, if not simply for its time."""
    if reminder.state not in (ReminderState.PENDING, ReminderState.QUEUED):
        return None
    if owner.email_verified_at is None:
        return EMAIL_UNVERIFIED
    return reminder.waiting_reason or None


def expire_unverified(*, now: datetime) -> int:
    """Fail the reminders that waited for a verification too long after their time."""
    before = now - timedelta(seconds=settings.REMINDER_UNVERIFIED_EXPIRY_SECONDS)
    return Reminder.objects.filter(
        state__in=(ReminderState.PENDING, ReminderState.QUEUED),
        due_at__lt=before,
        task__owner__email_verified_at__isnull=True,
    ).update(
        state=ReminderState.FAILED,
        version=F("version") + 1,
        updated_at=now,
        last_error="Not sent: the address was not verified in time.",
    )


def hold_over_cap(claims: Sequence, *, now: datetime) -> list:
    """The claims that stay within their owners' email caps; the others are handed back.
    A cap of 0 is no cap (benchmarks and fault tests that send thousands to one owner)."""
    hour_cap = settings.REMINDER_EMAILS_PER_HOUR or float("inf")
    day_cap = settings.REMINDER_EMAILS_PER_DAY or float("inf")
    if not claims or hour_cap == day_cap == float("inf"):
        return list(claims)
    by_pk = {claim.pk: claim for claim in claims}
    mine = list(
        Reminder.objects.filter(pk__in=by_pk)
        .order_by("due_at", "id")
        .values_list("pk", "task__owner_id")
    )
    owners = {owner for _, owner in mine}
    counted = Q(sent_at__gte=now - DAY) | Q(state=ReminderState.SENDING, claimed_at__gte=now - DAY)
    in_hour = Q(sent_at__gte=now - HOUR) | Q(
        state=ReminderState.SENDING, claimed_at__gte=now - HOUR
    )
    moment = Coalesce("sent_at", "claimed_at")
    used = {
        row["task__owner_id"]: row
        for row in Reminder.objects.filter(counted, task__owner_id__in=owners)
        .exclude(pk__in=by_pk)
        .values("task__owner_id")
        .annotate(
            day=Count("pk"),
            hour=Count("pk", filter=in_hour),
            oldest_day=Min(moment),
            oldest_hour=Min(moment, filter=in_hour),
        )
    }
    kept: dict[int, int] = defaultdict(int)
    held: list[tuple[int, datetime]] = []
    for pk, owner in mine:
        row = used.get(owner, {})
        hour_used = row.get("hour", 0) + kept[owner]
        day_used = row.get("day", 0) + kept[owner]
        if hour_used < hour_cap and day_used < day_cap:
            kept[owner] += 1
            continue
        if day_used >= day_cap:
            until = (row.get("oldest_day") or now) + DAY
        else:
            until = (row.get("oldest_hour") or now) + HOUR
        held.append((pk, max(until, now)))
    for pk, until in held:
        claim = by_pk.pop(pk)
        Reminder.objects.filter(pk=pk, version=claim.version, state=ReminderState.SENDING).update(
            state=ReminderState.PENDING,
            due_at=until,
            attempts=F("attempts") - 1,
            version=F("version") + 1,
            claimed_at=None,
            queued_at=None,
            waiting_reason=EMAIL_LIMIT,
            updated_at=now,
        )
    return [claim for claim in claims if claim.pk in by_pk]
