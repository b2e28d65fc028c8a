"""Reads on tasks. Every read starts from the caller's own tasks: another user's tasks are
indistinguishable from tasks that do not exist."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from django.db.models import F, OrderBy, QuerySet

from tasks.models import Task
from users.models import User

OrderField = Literal["scheduled_at", "created_at", "title"]


@dataclass(frozen=True, slots=True)
class TaskOrdering:
    field: OrderField
    descending: bool = False


DEFAULT_ORDERING = (TaskOrdering("created_at"),)
NULLABLE_ORDER_FIELDS = frozenset({"scheduled_at"})


def task_visible(*, user: User) -> QuerySet[Task]:
    if not user.is_authenticated:
        return Task.objects.none()
    return Task.objects.filter(owner_id=user.pk)


def task_get(*, user: User, pk: int) -> Task:
    """The user's task with this primary key; Task.DoesNotExist otherwise."""
    return task_visible(user=user).get(pk=pk)


def _order_by(ordering: Sequence[TaskOrdering]) -> list[OrderBy]:
    clauses = []
    for item in ordering or DEFAULT_ORDERING:
        expression = F(item.field)
        # Unscheduled tasks go last in both directions: they have no place on a timeline. Only
        # the nullable field gets NULLS LAST, which would keep the others off their indexes.
        nulls_last = True if item.field in NULLABLE_ORDER_FIELDS else None
        clauses.append(
            expression.desc(nulls_last=nulls_last)
            if item.descending
            else expression.asc(nulls_last=nulls_last)
        )
    clauses.append(F("id").asc())
    return clauses


def task_list(
    *,
    user: User,
    status: str | None = None,
    scheduled_after: datetime | None = None,
    scheduled_before: datetime | None = None,
    title_contains: str | None = None,
    ordering: Sequence[TaskOrdering] = (),
) -> QuerySet[Task]:
    """The user's tasks, filtered and in a total order (ties broken by id).

    ``scheduled_after`` and ``scheduled_before`` are inclusive bounds; either excludes
    unscheduled tasks.
    """
    qs = task_visible(user=user)
    if status is not None:
        qs = qs.filter(status=status)
    if scheduled_after is not None:
        qs = qs.filter(scheduled_at__gte=scheduled_after)
    if scheduled_before is not None:
        qs = qs.filter(scheduled_at__lte=scheduled_before)
    if title_contains:
        qs = qs.filter(title__icontains=title_contains)
    return qs.order_by(*_order_by(ordering))


def task_pks_owned(*, user: User, pks: Iterable[int]) -> set[int]:
    """Which of these primary keys name tasks of this user."""
    wanted = set(pks)
    if not wanted:
        return set()
    return set(task_visible(user=user).filter(pk__in=wanted).values_list("pk", flat=True))
