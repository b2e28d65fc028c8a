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
    """Reminders with everything their email shows, in three queries whatever their number."""
    open_pre_tasks = Task.objects.filter(status=TaskStatus.OPEN).order_by("scheduled_at", "id")
    return list(
        Reminder.objects.filter(pk__in=list(pks))
        .select_related("task__owner")
        .prefetch_related(Prefetch("task__pre_tasks", open_pre_tasks, to_attr="open_pre_tasks"))
        .order_by("due_at", "id")
    )
