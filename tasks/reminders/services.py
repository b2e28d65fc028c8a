"""Writes on reminders: those the API calls, and those that follow their task (called by
``tasks.services`` inside its transaction). Each validates before writing and raises
django.core.exceptions.ValidationError (per-field messages with codes) or DoesNotExist."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from tasks.models import Reminder, ReminderState, Task, TaskStatus
from tasks.reminders.selectors import reminder_visible
from tasks.reminders.wakeups import horizon, wake_after_commit
from tasks.selectors import task_visible
from users.models import User

ACTIVE = (ReminderState.PENDING, ReminderState.QUEUED, ReminderState.SENDING)
MAX_MINUTES_BEFORE = 60 * 24 * 366


# Writes called by the API


def reminder_add(
    *, user: User, task_id: int, at: datetime | None = None, minutes_before: int | None = None
) -> Reminder:
    """A reminder on the user's task at an absolute moment (``at``) or ``minutes_before`` the
    task's scheduled time. Task.DoesNotExist when the user has no task by that id.

    The task's row stays locked until the commit, so a completion or a reschedule running at the
    same time waits and then sees (and cancels or moves) the new reminder."""
    with transaction.atomic():
        task = task_visible(user=user).select_for_update().get(pk=task_id)
        now = timezone.now()
        remind_at = _remind_at(task, at=at, minutes_before=minutes_before, now=now)
        _check_room(task, remind_at, field="at" if at is not None else "minutes_before")
        reminder = Reminder.objects.create(
            task=task, remind_at=remind_at, due_at=remind_at, minutes_before=minutes_before
        )
        _queue_if_near([reminder], now)
    return reminder


def _check_room(task: Task, remind_at: datetime, *, field: str) -> None:
    """At most TASK_MAX_REMINDERS reminders a task (every row: the task's list shows them
    all), and one per moment (cancelled ones aside). Under the task's row lock, so that two
    concurrent additions cannot both pass; the unique constraint backs the second rule."""
    rows = list(Reminder.objects.filter(task=task).values_list("remind_at", "state"))
    limit = settings.TASK_MAX_REMINDERS
    if len(rows) >= limit:
        raise ValidationError(
            "A task can have at most %(limit)d reminders: delete one before adding another.",
            code="limit_reached",
            params={"limit": limit},
        )
    if any(at == remind_at and state != ReminderState.CANCELLED for at, state in rows):
        raise ValidationError(
            {
                field: ValidationError(
                    "The task already has a reminder at %(at)s.",
                    code="duplicate",
                    params={"at": remind_at.isoformat(timespec="seconds")},
                )
            }
        )


def reminder_delete(*, user: User, reminder_id: int) -> None:
    """Delete the user's reminder; Reminder.DoesNotExist when the user has none by that id.
    A wake-up message already sent for it finds nothing to claim."""
    deleted, _ = reminder_visible(user=user).filter(pk=reminder_id).delete()
    if not deleted:
        raise Reminder.DoesNotExist("Reminder not found.")


def _counted_back(scheduled_at: datetime, minutes_before: int) -> datetime | None:
    """``minutes_before`` the scheduled time; None when that falls before year 1 (a task may
    be scheduled at 0001-01-01T00:00Z), which is past anyway."""
    try:
        return scheduled_at - timedelta(minutes=minutes_before)
    except OverflowError:
        return None


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


def _remind_at(
    task: Task, *, at: datetime | None, minutes_before: int | None, now: datetime
) -> datetime:
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
        return at.astimezone(UTC)
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
    remind_at = _counted_back(task.scheduled_at, minutes_before)
    if remind_at is None:
        raise ValidationError(
            {
                "minutes_before": ValidationError(
                    "Reminder time must be in the future (it would be before year 1, now is "
                    "%(now)s).",
                    code="in_past",
                    params={"now": now.isoformat(timespec="seconds")},
                )
            }
        )
    try:
        _check_future(remind_at, now)
    except ValidationError as exc:
        raise ValidationError({"minutes_before": exc.error_list}) from None
    return remind_at


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
    relative = list(relative.select_for_update().order_by("remind_at", "id"))
    # All move by the same amount: saved in the direction of the move, none lands on a moment
    # another has not left yet (one reminder per moment is a unique constraint).
    if relative and task.scheduled_at > _scheduled_before(relative[0]):
        relative.reverse()
    taken = _absolute_moments(task)
    for reminder in relative:
        remind_at = _counted_back(task.scheduled_at, reminder.minutes_before)
        if remind_at == reminder.remind_at:
            continue
        if remind_at is None or remind_at <= now or remind_at in taken:
            # Past, or an absolute reminder already emails at that moment.
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
        reminder.waiting_reason = ""
        reminder.save()
        moved.append(reminder)
    _queue_if_near(moved, now)


def _scheduled_before(reminder: Reminder) -> datetime:
    """The task's scheduled time when this relative reminder was last placed."""
    return reminder.remind_at + timedelta(minutes=reminder.minutes_before)


def _absolute_moments(task: Task) -> set[datetime]:
    return set(
        Reminder.objects.filter(task=task, minutes_before__isnull=True)
        .exclude(state=ReminderState.CANCELLED)
        .values_list("remind_at", flat=True)
    )


def reminders_cancel(*, task: Task) -> int:
    """Cancel the task's reminders that have not been sent yet (the task is done)."""
    return Reminder.objects.filter(task=task, state__in=ACTIVE).update(
        state=ReminderState.CANCELLED, version=F("version") + 1, updated_at=timezone.now()
    )


def _queue_if_near(reminders: list[Reminder], now: datetime) -> None:
    """Reminders due within the horizon become QUEUED, with a wake-up after the commit."""
    near = [r for r in reminders if r.due_at <= horizon(now)]
    if not near:
        return
    Reminder.objects.filter(pk__in=[r.pk for r in near], state=ReminderState.PENDING).update(
        state=ReminderState.QUEUED, queued_at=now
    )
    for reminder in near:
        reminder.state, reminder.queued_at = ReminderState.QUEUED, now
    wake_after_commit([r.due_at for r in near])


def reminders_send_again(*, pks: Iterable[int]) -> int:
    """Send these reminders again now, through the normal pipeline (the admin's action): each
    is re-armed as QUEUED, due now, with a fresh attempt count and a new version (so a worker
    holding an older claim cannot write over it), and a wake-up follows the commit. Reminders
    being sent right now are left alone. Returns how many were re-armed."""
    now = timezone.now()
    with transaction.atomic():
        rearmed = (
            Reminder.objects.filter(pk__in=list(pks))
            .exclude(state=ReminderState.SENDING)
            .update(
                state=ReminderState.QUEUED,
                due_at=now,
                queued_at=now,
                attempts=0,
                version=F("version") + 1,
                claimed_at=None,
                sent_at=None,
                message_id="",
                delivery_status="",
                last_error="",
                updated_at=now,
            )
        )
        if rearmed:
            wake_after_commit([now])
    return rearmed
