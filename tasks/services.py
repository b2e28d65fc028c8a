"""Writes on tasks. Every function validates all its input before writing anything and raises
django.core.exceptions.ValidationError (per-field messages with codes) or Task.DoesNotExist."""

from collections.abc import Sequence
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.unset import UNSET, Unset
from tasks import reminders
from tasks.models import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH, Task, TaskDependency, TaskStatus
from tasks.selectors import task_pks_owned
from users.models import User


def _clean_title(title: str) -> str:
    title = title.strip()
    if not title:
        raise ValidationError("Title is required.", code="blank")
    if len(title) > TITLE_MAX_LENGTH:
        raise ValidationError(
            "Title must be at most %(limit)d characters (it has %(length)d).",
            code="max_length",
            params={"limit": TITLE_MAX_LENGTH, "length": len(title)},
        )
    return title


def _clean_description(description: str) -> str:
    if len(description) > DESCRIPTION_MAX_LENGTH:
        raise ValidationError(
            "Description must be at most %(limit)d characters (it has %(length)d).",
            code="max_length",
            params={"limit": DESCRIPTION_MAX_LENGTH, "length": len(description)},
        )
    return description


def _clean_scheduled_at(scheduled_at: datetime | None) -> datetime | None:
    if scheduled_at is not None and timezone.is_naive(scheduled_at):
        raise ValidationError(
            "Scheduled time needs a UTC offset, e.g. 2030-01-31T09:00:00+01:00.",
            code="naive_datetime",
        )
    # Stored and returned in UTC, whatever offset the caller used.
    return scheduled_at.astimezone(UTC) if scheduled_at is not None else None


def _collect(errors: dict, field: str, clean, value):
    try:
        return clean(value)
    except ValidationError as exc:
        errors[field] = exc.error_list
        return value


def _check_pre_tasks(*, owner: User, pre_task_ids: Sequence[int]) -> list[int]:
    wanted = list(dict.fromkeys(pre_task_ids))
    missing = set(wanted) - task_pks_owned(user=owner, pks=wanted)
    if missing:
        raise ValidationError(
            "%(count)d of the pre-tasks do not exist.",
            code="not_found",
            params={"count": len(missing)},
        )
    return wanted


def task_create(
    *,
    owner: User,
    title: str,
    description: str = "",
    scheduled_at: datetime | None = None,
    pre_task_ids: Sequence[int] = (),
) -> Task:
    errors: dict[str, list[ValidationError]] = {}
    title = _collect(errors, "title", _clean_title, title)
    description = _collect(errors, "description", _clean_description, description)
    scheduled_at = _collect(errors, "scheduled_at", _clean_scheduled_at, scheduled_at)
    pre_task_ids = _collect(
        errors,
        "pre_task_ids",
        lambda ids: _check_pre_tasks(owner=owner, pre_task_ids=ids),
        pre_task_ids,
    )
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        task = Task.objects.create(
            owner=owner, title=title, description=description, scheduled_at=scheduled_at
        )
        # A brand-new task has no dependents, so these edges cannot close a cycle.
        TaskDependency.objects.bulk_create(
            TaskDependency(task=task, pre_task_id=pk) for pk in pre_task_ids
        )
        reminders.reminders_after_task_create(task=task)
    return task


def task_update(
    *,
    task: Task,
    title: str | Unset = UNSET,
    description: str | Unset = UNSET,
    scheduled_at: datetime | Unset | None = UNSET,
) -> Task:
    errors: dict[str, list[ValidationError]] = {}
    changes: dict[str, object] = {}
    if title is not UNSET:
        changes["title"] = _collect(errors, "title", _clean_title, title)
    if description is not UNSET:
        changes["description"] = _collect(errors, "description", _clean_description, description)
    if scheduled_at is not UNSET:
        changes["scheduled_at"] = _collect(
            errors, "scheduled_at", _clean_scheduled_at, scheduled_at
        )
    if errors:
        raise ValidationError(errors)
    if not changes:
        return task

    rescheduled = "scheduled_at" in changes and changes["scheduled_at"] != task.scheduled_at
    for name, value in changes.items():
        setattr(task, name, value)
    with transaction.atomic():
        task.save(update_fields=[*changes, "updated_at"])
        if rescheduled:
            reminders.reminders_after_reschedule(task=task)
    return task


def task_delete(*, task: Task) -> None:
    task.delete()


def task_complete(*, task: Task) -> Task:
    if task.status == TaskStatus.DONE:
        return task
    task.status = TaskStatus.DONE
    task.completed_at = timezone.now()
    with transaction.atomic():
        task.save(update_fields=["status", "completed_at", "updated_at"])
        reminders.reminders_cancel(task=task)
    return task


def task_reopen(*, task: Task) -> Task:
    if task.status == TaskStatus.OPEN:
        return task
    task.status = TaskStatus.OPEN
    task.completed_at = None
    task.save(update_fields=["status", "completed_at", "updated_at"])
    return task
