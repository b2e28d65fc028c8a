"""Writes on tasks. Every function validates all its input before writing anything and raises
django.core.exceptions.ValidationError (per-field messages with codes) when it refuses."""

from collections.abc import Sequence
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.cleaning import clean_fields
from core.unset import UNSET, Unset, given
from tasks import events, graph, graph_queries
from tasks.models import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH, Task, TaskDependency, TaskStatus
from tasks.reminders import services as reminders
from tasks.selectors import (
    has_open_pre_task,
    schedule_ordered,
    task_is_ready,
    task_pks_owned,
    task_visible,
)
from users.models import User
from users.services import user_lock
from webhooks.events import events_record
from webhooks.models import EventType

# Longest cycle spelled out in full in an error message; longer ones keep both ends.
CYCLE_SHOWN = 20


class PreTaskCycleError(ValidationError):
    """The new pre-tasks would close a cycle; ``cycle`` lists it as (pk, title) pairs in order,
    each to be done before the next, the first task repeated at the end."""

    def __init__(self, cycle: list[tuple[int, str]]) -> None:
        self.cycle = cycle
        shown = [f'"{title}" ({pk})' for pk, title in cycle]
        super().__init__({"pre_task_ids": [ValidationError(cycle_message(shown), code="cycle")]})


def cycle_message(shown: list[str]) -> str:
    """The cycle error's text, given each task of the cycle already spelled out."""
    if len(shown) > CYCLE_SHOWN:
        hidden = len(shown) - CYCLE_SHOWN
        half = CYCLE_SHOWN // 2
        shown = [*shown[:half], f"... {hidden} more ...", *shown[-half:]]
    return (
        "These pre-tasks would close a cycle (each must be done before the next): "
        + " -> ".join(shown)
        + "."
    )


def _clean_title(title: str) -> str:
    title = title.strip()
    if not title:
        raise ValidationError("Title is required.", code="blank")
    return _check_length("Title", title, TITLE_MAX_LENGTH)


def _clean_description(description: str) -> str:
    return _check_length("Description", description, DESCRIPTION_MAX_LENGTH)


def _check_length(what: str, text: str, limit: int) -> str:
    if len(text) > limit:
        raise ValidationError(
            f"{what} must be at most %(limit)d characters (it has %(length)d).",
            code="max_length",
            params={"limit": limit, "length": len(text)},
        )
    return text


def _clean_scheduled_at(scheduled_at: datetime | None) -> datetime | None:
    if scheduled_at is not None and timezone.is_naive(scheduled_at):
        raise ValidationError(
            "Scheduled time needs a UTC offset, e.g. 2030-01-31T09:00:00+01:00.",
            code="naive_datetime",
        )
    # Stored and returned in UTC, whatever offset the caller used.
    return scheduled_at.astimezone(UTC) if scheduled_at is not None else None


_CLEANERS = {
    "title": _clean_title,
    "description": _clean_description,
    "scheduled_at": _clean_scheduled_at,
}


def _cleaned(values: dict[str, object], *, check_pre_tasks) -> dict[str, object]:
    """The given fields cleaned, or one ValidationError with every field's errors."""
    return clean_fields(values, {**_CLEANERS, "pre_task_ids": check_pre_tasks})


def _check_pre_tasks(
    *, owner: User, pre_task_ids: Sequence[int], limited: bool = False
) -> list[int]:
    """The distinct ids, all the owner's tasks; ``limited``: they are a task's whole set."""
    wanted = list(dict.fromkeys(pre_task_ids))
    if limited:
        _check_pre_task_count(len(wanted))
    missing = set(wanted) - task_pks_owned(user=owner, pks=wanted)
    if missing:
        raise ValidationError(
            "%(count)d of the pre-tasks do not exist.",
            code="not_found",
            params={"count": len(missing)},
        )
    return wanted


def _check_pre_task_count(count: int) -> None:
    limit = settings.TASK_MAX_PRE_TASKS
    if count > limit:
        raise ValidationError(
            "A task can have at most %(limit)d pre-tasks (this would make %(count)d).",
            code="limit_reached",
            params={"limit": limit, "count": count},
        )


def _check_task_count(*, owner_id: int) -> None:
    """Under the owner's graph lock, so that concurrent creations cannot pass it together."""
    limit = settings.USER_MAX_TASKS
    if Task.objects.filter(owner_id=owner_id).count() >= limit:
        raise ValidationError(
            "You have reached the limit of %(limit)d tasks: delete some before adding more.",
            code="limit_reached",
            params={"limit": limit},
        )


def _owner(task: Task) -> User:
    # The checks need only the owner's id: a stand-in spares loading the user's row.
    return task.owner if Task.owner.is_cached(task) else User(pk=task.owner_id)


def _check_new_pre_tasks(
    *, task: Task, pre_task_ids: Sequence[int], limited: bool = False
) -> list[int]:
    if task.pk in pre_task_ids:
        raise ValidationError("A task cannot be its own pre-task.", code="self_dependency")
    return _check_pre_tasks(owner=_owner(task), pre_task_ids=pre_task_ids, limited=limited)


def _lock_graph(*, owner_id: int) -> None:
    """Serialize graph writes per owner until the transaction ends, so that two requests
    adding A -> B and B -> A cannot both pass the cycle check."""
    user_lock(user_id=owner_id)


def _refuse_cycles(*, task: Task, pre_task_ids: list[int]) -> None:
    """One recursive query when all is well; two more to name the cycle when it is not."""
    if not graph_queries.reaches(start=task.pk, goals=pre_task_ids):
        return
    edges = graph_queries.ancestor_edges(task_ids=pre_task_ids)
    path = graph.shortest_path(edges, start=task.pk, goals=set(pre_task_ids))
    # path runs task -> ... -> pre-task; the new edge pre-task -> task closes it.
    cycle = [path[-1], *path]
    # By the walk, not by the list of ids: psycopg binds 10,000 parameters slowly.
    on_path = graph_queries.ancestor_ids(task_id=path[-1], include_self=True)
    titles = dict(Task.objects.filter(pk__in=on_path).values_list("pk", "title"))
    raise PreTaskCycleError([(pk, titles[pk]) for pk in cycle])


def _add_pre_tasks(*, task: Task, pre_task_ids: list[int]) -> None:
    _refuse_cycles(task=task, pre_task_ids=pre_task_ids)
    TaskDependency.objects.bulk_create(
        [TaskDependency(task=task, pre_task_id=pk) for pk in pre_task_ids],
        ignore_conflicts=True,
    )


# Readiness events. A task becomes ready when its last open pre-task is completed, deleted or
# removed from its pre-tasks; the services record task.ready in the same transaction, under the
# owner's graph lock, so that two such changes racing each other cannot both miss it. Gaining
# an open pre-task (added, or reopened) has no "not ready" event: task.updated says the set
# changed, and a reopened task's own task.updated says it is open again.


def _ready_now(*, task: Task) -> list[Task]:
    """The task as it is now, if it is open with no open pre-task; else nothing."""
    return list(
        Task.objects.filter(pk=task.pk, status=TaskStatus.OPEN).exclude(has_open_pre_task())
    )


def _freed_by_deleting(*, task: Task) -> list[Task]:
    """The open dependents whose last open pre-task is this task (one query, before it goes)."""
    other_open_pre_tasks = TaskDependency.objects.filter(
        task_id=OuterRef("pk"), pre_task__status=TaskStatus.OPEN
    ).exclude(pre_task_id=task.pk)
    return list(
        Task.objects.filter(
            pre_task_links__pre_task_id=task.pk,
            pre_task_links__pre_task__status=TaskStatus.OPEN,
            status=TaskStatus.OPEN,
        )
        .exclude(Exists(other_open_pre_tasks))
        .order_by("pk")
    )


def _record(type: EventType, task: Task, *, ready: Sequence[Task] = ()) -> None:
    """One event on the task, and task.ready for each task in ``ready``."""
    events_record(
        [
            (task.owner_id, type, events.task_data(task)),
            *((other.owner_id, EventType.TASK_READY, events.task_data(other)) for other in ready),
        ]
    )


def task_pre_tasks_add(*, task: Task, pre_task_ids: Sequence[int]) -> Task:
    """Add pre-tasks; ones already there are a no-op. All or nothing: one own-task, missing
    or cycle-closing id refuses the whole call. task.updated only when an edge was added."""
    try:
        wanted = _check_new_pre_tasks(task=task, pre_task_ids=pre_task_ids)
    except ValidationError as exc:
        raise ValidationError({"pre_task_ids": exc.error_list}) from None
    with transaction.atomic():
        _lock_graph(owner_id=task.owner_id)
        current = set(
            TaskDependency.objects.filter(task=task).values_list("pre_task_id", flat=True)
        )
        new = [pk for pk in wanted if pk not in current]
        try:
            _check_pre_task_count(len(current) + len(new))
        except ValidationError as exc:
            raise ValidationError({"pre_task_ids": exc.error_list}) from None
        if new:
            # The edges already there cannot close a cycle: the graph has none.
            _add_pre_tasks(task=task, pre_task_ids=new)
            _record(EventType.TASK_UPDATED, task)
    return task


def task_pre_tasks_remove(*, task: Task, pre_task_ids: Sequence[int]) -> Task:
    """Remove pre-tasks; the user's tasks that are not pre-tasks of this one are a no-op.
    task.updated when an edge was removed, and task.ready when that freed the task."""
    try:
        wanted = _check_pre_tasks(owner=_owner(task), pre_task_ids=pre_task_ids)
    except ValidationError as exc:
        raise ValidationError({"pre_task_ids": exc.error_list}) from None
    with transaction.atomic():
        _lock_graph(owner_id=task.owner_id)
        was_blocked = not task_is_ready(task=task)
        removed, _ = TaskDependency.objects.filter(task=task, pre_task_id__in=wanted).delete()
        if removed:
            _record(
                EventType.TASK_UPDATED, task, ready=_ready_now(task=task) if was_blocked else []
            )
    return task


def _set_pre_tasks(*, task: Task, pre_task_ids: list[int]) -> None:
    TaskDependency.objects.filter(task=task).exclude(pre_task_id__in=pre_task_ids).delete()
    if pre_task_ids:
        _add_pre_tasks(task=task, pre_task_ids=pre_task_ids)


def task_create(
    *,
    owner: User,
    title: str,
    description: str = "",
    scheduled_at: datetime | None = None,
    pre_task_ids: Sequence[int] = (),
) -> Task:
    cleaned = _cleaned(
        {
            "title": title,
            "description": description,
            "scheduled_at": scheduled_at,
            "pre_task_ids": pre_task_ids,
        },
        check_pre_tasks=lambda ids: _check_pre_tasks(owner=owner, pre_task_ids=ids, limited=True),
    )
    pre_task_ids = cleaned.pop("pre_task_ids")
    with transaction.atomic():
        _lock_graph(owner_id=owner.pk)
        _check_task_count(owner_id=owner.pk)
        task = Task.objects.create(owner=owner, **cleaned)
        # A brand-new task has no dependents, so these edges cannot close a cycle.
        TaskDependency.objects.bulk_create(
            TaskDependency(task=task, pre_task_id=pk) for pk in pre_task_ids
        )
        reminders.reminders_after_task_create(task=task)
        events.task_event(EventType.TASK_CREATED, task)
    return task


def task_update(
    *,
    task: Task,
    title: str | Unset = UNSET,
    description: str | Unset = UNSET,
    scheduled_at: datetime | Unset | None = UNSET,
    pre_task_ids: Sequence[int] | Unset = UNSET,
) -> Task:
    """Change the given fields; ``pre_task_ids`` replaces the whole set of pre-tasks."""
    changes = _cleaned(
        given(
            title=title,
            description=description,
            scheduled_at=scheduled_at,
            pre_task_ids=pre_task_ids,
        ),
        check_pre_tasks=lambda ids: _check_new_pre_tasks(task=task, pre_task_ids=ids, limited=True),
    )
    pre_task_ids = changes.pop("pre_task_ids", UNSET)
    if not changes and pre_task_ids is UNSET:
        return task

    rescheduled = "scheduled_at" in changes and changes["scheduled_at"] != task.scheduled_at
    was_blocked = False
    with transaction.atomic():
        if pre_task_ids is not UNSET:
            _lock_graph(owner_id=task.owner_id)
            was_blocked = not task_is_ready(task=task)
            _set_pre_tasks(task=task, pre_task_ids=pre_task_ids)
        if changes:
            for name, value in changes.items():
                setattr(task, name, value)
            task.save(update_fields=[*changes, "updated_at"])
            if rescheduled:
                reminders.reminders_after_reschedule(task=task)
        _record(EventType.TASK_UPDATED, task, ready=_ready_now(task=task) if was_blocked else [])
    return task


def task_update_owned(*, user: User, pk: int | None, **changes: object) -> Task:
    """``task_update`` of the user's task ``pk``, found and changed in one transaction.

    A ``pk`` that names no task of the user's (or None: an undecodable ID) is refused as
    ``{"id": not_found}``.
    """
    with transaction.atomic():
        task = task_visible(user=user).filter(pk=pk).first() if pk is not None else None
        if task is None:
            raise ValidationError({"id": ValidationError("Task not found.", code="not_found")})
        return task_update(task=task, **changes)


def task_delete(*, task: Task) -> None:
    """Delete the task (its edges and reminders with it): task.deleted, and task.ready for each
    dependent whose last open pre-task it was. A fixed number of queries, whatever the number
    of dependents."""
    with transaction.atomic():
        _lock_graph(owner_id=task.owner_id)
        freed = _freed_by_deleting(task=task)
        _record(EventType.TASK_DELETED, task, ready=freed)
        task.delete()


# Open pre-tasks named in the refusal to complete a task; more are counted.
BLOCKERS_SHOWN = 5


def task_complete(*, task: Task, force: bool = False) -> Task:
    """Mark the task done; refused while a pre-task is open, unless ``force``."""
    if task.status == TaskStatus.DONE:
        return task
    if not force:
        open_pre_tasks = Task.objects.filter(dependent_links__task=task, status=TaskStatus.OPEN)
        open_titles = list(schedule_ordered(open_pre_tasks).values_list("title", flat=True))
        if open_titles:
            named = ", ".join(f'"{t}"' for t in open_titles[:BLOCKERS_SHOWN])
            if len(open_titles) > BLOCKERS_SHOWN:
                named += f" and {len(open_titles) - BLOCKERS_SHOWN} more"
            raise ValidationError(
                "Pre-tasks still open: %(named)s. Complete them first, or force it.",
                code="blocked",
                params={"named": named},
            )
    task.status = TaskStatus.DONE
    task.completed_at = timezone.now()
    with transaction.atomic():
        # Serialized with the other changes that can free a dependent (see "Readiness events"):
        # two last pre-tasks completed at once must not both see the other one still open.
        _lock_graph(owner_id=task.owner_id)
        task.save(update_fields=["status", "completed_at", "updated_at"])
        reminders.reminders_cancel(task=task)
        events.task_completed_events(task)
    return task


def task_reopen(*, task: Task) -> Task:
    if task.status == TaskStatus.OPEN:
        return task
    task.status = TaskStatus.OPEN
    task.completed_at = None
    with transaction.atomic():
        task.save(update_fields=["status", "completed_at", "updated_at"])
        events.task_event(EventType.TASK_UPDATED, task)
    return task
