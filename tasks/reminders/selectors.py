"""Reads on reminders."""

from collections.abc import Iterable

from django.db.models import Prefetch, QuerySet

from tasks.models import Reminder, Task, TaskStatus
from users.models import User


def reminder_visible(*, user: User) -> QuerySet[Reminder]:
    """The user's reminders: another user's are indistinguishable from missing ones."""
    if not user.is_authenticated:
        return Reminder.objects.none()
    return Reminder.objects.filter(task__owner_id=user.pk)


def reminders_for_delivery(*, pks: Iterable[int]) -> list[Reminder]:
    """Reminders with what their email shows (jobs/emails.py) and nothing more, in three
    queries whatever their number: a burst loads thousands a second, and every column read
    is paid per email."""
    open_pre_tasks = (
        Task.objects.filter(status=TaskStatus.OPEN)
        .only("id", "title", "scheduled_at")
        .order_by("scheduled_at", "id")
    )
    return list(
        Reminder.objects.filter(pk__in=list(pks))
        .select_related("task__owner")
        .only(*DELIVERY_FIELDS)
        .prefetch_related(Prefetch("task__pre_tasks", open_pre_tasks, to_attr="open_pre_tasks"))
        .order_by("due_at", "id")
    )


# The columns an email needs: the reminder's moment, the task's text and time, the owner's
# address and time zone.
DELIVERY_FIELDS = (
    "id",
    "due_at",
    "remind_at",
    "task__id",
    "task__title",
    "task__description",
    "task__scheduled_at",
    "task__owner__id",
    "task__owner__email",
    "task__owner__timezone",
)
