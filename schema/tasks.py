"""Task queries and mutations: decode input, call one selector or service, shape the result."""

from datetime import datetime
from enum import Enum

import strawberry
import strawberry_django
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from strawberry import Info, relay
from strawberry_django.optimizer import optimize

from core.unset import UNSET
from schema.auth import current_user
from schema.connections import ListConnection, bounded_first
from schema.errors import FieldError, field_errors, not_found, null_refused
from schema.ids import decode_pk, decode_pks
from schema.types import TaskStatusEnum, TaskType
from tasks import selectors, services
from tasks.models import Task

MAX_PAGE_SIZE = 100


@strawberry.input(description="All given conditions must hold.")
class TaskFilter:
    status: TaskStatusEnum | None = None
    scheduled_after: datetime | None = strawberry.field(
        default=None, description="Scheduled at or after this moment."
    )
    scheduled_before: datetime | None = strawberry.field(
        default=None, description="Scheduled at or before this moment."
    )
    title_contains: str | None = strawberry.field(
        default=None, description="Case-insensitive substring of the title."
    )
    ready: bool | None = strawberry.field(
        default=None,
        description="true: no open pre-task (add status: OPEN for what can be done now); "
        "false: at least one.",
    )
    blocked: bool | None = strawberry.field(
        default=None, description="true: at least one open pre-task; false: none."
    )


@strawberry.enum
class TaskOrderField(Enum):
    SCHEDULED_AT = "scheduled_at"
    CREATED_AT = "created_at"
    TITLE = "title"


@strawberry.enum
class OrderDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.input(description="One sort key; later keys break ties of earlier ones, then id.")
class TaskOrder:
    field: TaskOrderField
    direction: OrderDirection = OrderDirection.ASC


@strawberry.input
class TaskCreateInput:
    title: str
    description: str = ""
    scheduled_at: datetime | None = None
    pre_task_ids: list[relay.GlobalID] = strawberry.field(default_factory=list)


@strawberry.input(description="Only the fields given are changed; scheduledAt: null unschedules.")
class TaskUpdateInput:
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    scheduled_at: datetime | None = strawberry.UNSET
    pre_task_ids: list[relay.GlobalID] | None = strawberry.field(
        default=strawberry.UNSET,
        description="The complete new set of pre-tasks ([] removes them all).",
    )


@strawberry.type
class TaskPayload:
    task: TaskType | None = None
    errors: list[FieldError] = strawberry.field(default_factory=list)


@strawberry.type
class TaskDeletePayload:
    deleted_id: relay.GlobalID | None = None
    errors: list[FieldError] = strawberry.field(default_factory=list)


def _given(value):
    return UNSET if value is strawberry.UNSET else value


def _graph_errors(exc: ValidationError) -> list[FieldError]:
    """Payload errors; a cycle is spelled out with global IDs, the IDs clients know."""
    if isinstance(exc, services.PreTaskCycleError):
        shown = [f'"{title}" ({relay.to_base64("Task", pk)})' for pk, title in exc.cycle]
        return [FieldError(field="preTaskIds", message=services.cycle_message(shown), code="cycle")]
    return field_errors(exc)


def _pre_task_not_found() -> list[FieldError]:
    return not_found("preTaskIds", "Pre-task not found.")


def _own_task(info: Info, id: relay.GlobalID) -> Task | None:
    user = current_user(info)
    pk = decode_pk(id, "Task")
    if pk is None:
        return None
    try:
        return selectors.task_get(user=user, pk=pk)
    except Task.DoesNotExist:
        return None


@strawberry.type
class TaskQuery:
    @strawberry_django.field(description="One of your tasks, or null if there is none by that ID.")
    def task(self, info: Info, id: relay.GlobalID) -> TaskType | None:
        user = current_user(info)
        pk = decode_pk(id, "Task")
        if pk is None:
            return None
        return selectors.task_visible(user=user).filter(pk=pk)

    @strawberry_django.connection(
        ListConnection[TaskType],
        max_results=MAX_PAGE_SIZE,
        description=f"Your tasks, at most {MAX_PAGE_SIZE} per page. Default order: createdAt.",
    )
    def tasks(
        self,
        info: Info,
        filter: TaskFilter | None = None,
        order: list[TaskOrder] | None = None,
    ) -> QuerySet[Task]:
        user = current_user(info)
        filter = filter or TaskFilter()
        return selectors.task_list(
            user=user,
            status=filter.status.value if filter.status else None,
            scheduled_after=filter.scheduled_after,
            scheduled_before=filter.scheduled_before,
            title_contains=filter.title_contains,
            ready=filter.ready,
            blocked=filter.blocked,
            ordering=[
                selectors.TaskOrdering(item.field.value, item.direction == OrderDirection.DESC)
                for item in order or ()
            ],
        )

    @strawberry.field(
        description="Tasks in an order that can be worked through: each after all its "
        "pre-tasks; ties go to the earlier scheduledAt (unscheduled last), then the smaller id. "
        "All your tasks, or rootId and its ancestors (rootId last); null if rootId names no task "
        "of yours. `first` keeps the beginning of the order (what can be done next); at most "
        "USER_MAX_TASKS (10,000 by default), the most tasks one user may have."
    )
    def task_order(
        self, info: Info, root_id: relay.GlobalID | None = None, first: int | None = None
    ) -> list[TaskType] | None:
        user = current_user(info)
        limit = bounded_first(first, settings.USER_MAX_TASKS)
        root = None
        if root_id is not None:
            root = _own_task(info, root_id)
            if root is None:
                return None
        tasks = optimize(selectors.task_order_scope(user=user, root=root), info)
        return selectors.task_order(user=user, root=root, tasks=tasks)[:limit]


@strawberry.type
class TaskMutation:
    @strawberry.mutation
    def task_create(self, info: Info, input: TaskCreateInput) -> TaskPayload:
        user = current_user(info)
        pre_task_pks, all_tasks = decode_pks(input.pre_task_ids, "Task")
        if not all_tasks:
            return TaskPayload(errors=_pre_task_not_found())
        try:
            task = services.task_create(
                owner=user,
                title=input.title,
                description=input.description,
                scheduled_at=input.scheduled_at,
                pre_task_ids=pre_task_pks,
            )
        except ValidationError as exc:
            return TaskPayload(errors=field_errors(exc))
        return TaskPayload(task=task)

    @strawberry.mutation
    def task_update(self, info: Info, id: relay.GlobalID, input: TaskUpdateInput) -> TaskPayload:
        current_user(info)
        if errors := null_refused(input, ("title", "description", "pre_task_ids")):
            return TaskPayload(errors=errors)
        pre_task_pks = UNSET
        if input.pre_task_ids is not strawberry.UNSET:
            pre_task_pks, all_tasks = decode_pks(input.pre_task_ids, "Task")
            if not all_tasks:
                return TaskPayload(errors=_pre_task_not_found())
        with transaction.atomic():
            task = _own_task(info, id)
            if task is None:
                return TaskPayload(errors=not_found())
            try:
                task = services.task_update(
                    task=task,
                    title=_given(input.title),
                    description=_given(input.description),
                    scheduled_at=_given(input.scheduled_at),
                    pre_task_ids=pre_task_pks,
                )
            except ValidationError as exc:
                return TaskPayload(errors=_graph_errors(exc))
        return TaskPayload(task=task)

    @strawberry.mutation
    def task_delete(self, info: Info, id: relay.GlobalID) -> TaskDeletePayload:
        task = _own_task(info, id)
        if task is None:
            return TaskDeletePayload(errors=not_found())
        services.task_delete(task=task)
        return TaskDeletePayload(deleted_id=id)

    @strawberry.mutation(description="Refused while a pre-task is open, unless force: true.")
    def task_complete(self, info: Info, id: relay.GlobalID, force: bool = False) -> TaskPayload:
        task = _own_task(info, id)
        if task is None:
            return TaskPayload(errors=not_found())
        try:
            return TaskPayload(task=services.task_complete(task=task, force=force))
        except ValidationError as exc:
            return TaskPayload(errors=field_errors(exc))

    @strawberry.mutation(
        description="Add pre-tasks (existing ones are a no-op). All or nothing: the call is "
        "refused if any ID is this task, not one of your tasks, or would close a cycle."
    )
    def task_add_pre_tasks(
        self, info: Info, task_id: relay.GlobalID, pre_task_ids: list[relay.GlobalID]
    ) -> TaskPayload:
        return _edit_pre_tasks(info, task_id, pre_task_ids, services.task_pre_tasks_add)

    @strawberry.mutation(
        description="Remove pre-tasks (IDs of your tasks that are not pre-tasks are a no-op)."
    )
    def task_remove_pre_tasks(
        self, info: Info, task_id: relay.GlobalID, pre_task_ids: list[relay.GlobalID]
    ) -> TaskPayload:
        return _edit_pre_tasks(info, task_id, pre_task_ids, services.task_pre_tasks_remove)

    @strawberry.mutation
    def task_reopen(self, info: Info, id: relay.GlobalID) -> TaskPayload:
        task = _own_task(info, id)
        if task is None:
            return TaskPayload(errors=not_found())
        return TaskPayload(task=services.task_reopen(task=task))


def _edit_pre_tasks(info, task_id, pre_task_ids, service) -> TaskPayload:
    pks, all_tasks = decode_pks(pre_task_ids, "Task")
    task = _own_task(info, task_id)
    if task is None:
        return TaskPayload(errors=not_found("taskId"))
    if not all_tasks:
        return TaskPayload(errors=_pre_task_not_found())
    try:
        return TaskPayload(task=service(task=task, pre_task_ids=pks))
    except ValidationError as exc:
        return TaskPayload(errors=_graph_errors(exc))
