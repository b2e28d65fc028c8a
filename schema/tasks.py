"""Task queries and mutations: decode input, call one selector or service, shape the result."""

from datetime import datetime
from enum import Enum

import strawberry
import strawberry_django
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from strawberry import Info, relay
from strawberry_django.optimizer import optimize

from schema.auth import IsAuthenticated, caller
from schema.connections import (
    PAGE_SIZE,
    CursorConnection,
    PagingError,
    bounded_first,
    describe_paging,
)
from schema.errors import (
    ArgumentError,
    FieldError,
    field_errors,
    not_found_error,
    payload_errors,
    refuse_naive,
)
from schema.ids import decode_pk, decode_pks
from schema.inputs import given
from schema.task_types import TaskStatusEnum, TaskType
from tasks import selectors, services
from tasks.models import TITLE_MAX_LENGTH, Task


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
        default=None,
        description=f"Case-insensitive substring of the title (at most {TITLE_MAX_LENGTH} "
        "characters, the longest a title can be).",
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
    pre_task_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.input(description="Only the fields given are changed; scheduledAt: null unschedules.")
class TaskUpdateInput:
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    scheduled_at: datetime | None = strawberry.UNSET
    pre_task_ids: list[strawberry.ID] | None = strawberry.field(
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


def _graph_errors(exc: ValidationError) -> list[FieldError]:
    """Payload errors; a cycle is spelled out with global IDs, the IDs clients know."""
    if isinstance(exc, services.PreTaskCycleError):
        shown = [f'"{title}" ({relay.to_base64("Task", pk)})' for pk, title in exc.cycle]
        return [FieldError(field="preTaskIds", message=services.cycle_message(shown), code="cycle")]
    return field_errors(exc)


task_errors = payload_errors(convert=_graph_errors)


def _check_title_contains(text: str | None) -> None:
    # No title is longer; SQLite also refuses LIKE patterns past 50,000 bytes.
    if text is not None and len(text) > TITLE_MAX_LENGTH:
        raise ArgumentError(
            f"titleContains must be at most {TITLE_MAX_LENGTH} characters, the longest a title "
            f"can be (it has {len(text)}).",
            "max_length",
        )


def _check_order(order: list[TaskOrder]) -> None:
    # A repeated field could only be ignored: the first already sorts by it.
    named = set()
    for item in order:
        if item.field in named:
            raise PagingError(f"Argument 'order' cannot name {item.field.name} more than once.")
        named.add(item.field)


def _pre_task_pks(ids: list[strawberry.ID]) -> list[int]:
    # An ID of another type is answered as a missing task, by the service that checks them.
    return decode_pks(ids, "Task")


def _own_task(info: Info, id: strawberry.ID) -> Task | None:
    pk = decode_pk(id, "Task")
    if pk is None:
        return None
    try:
        return selectors.task_get(user=caller(info), pk=pk)
    except Task.DoesNotExist:
        return None


def _own_task_or_refuse(info: Info, id: strawberry.ID, field: str = "id") -> Task:
    task = _own_task(info, id)
    if task is None:
        raise not_found_error(field)
    return task


def _pre_task_edit(service, description: str):
    """A mutation that applies ``service`` to a task's pre-tasks (add and remove)."""

    @task_errors
    def resolve(
        self, info: Info, task_id: strawberry.ID, pre_task_ids: list[strawberry.ID]
    ) -> TaskPayload:
        task = _own_task_or_refuse(info, task_id, "task_id")
        pks = _pre_task_pks(pre_task_ids)
        return TaskPayload(task=service(task=task, pre_task_ids=pks))

    return strawberry.mutation(
        resolve, description=description, permission_classes=[IsAuthenticated]
    )


@strawberry.type
class TaskQuery:
    @strawberry_django.field(
        description="One of your tasks, or null if there is none by that ID.",
        permission_classes=[IsAuthenticated],
    )
    def task(self, info: Info, id: strawberry.ID) -> TaskType | None:
        pk = decode_pk(id, "Task")
        if pk is None:
            return None
        return selectors.task_visible(user=caller(info)).filter(pk=pk)

    @describe_paging
    @strawberry_django.connection(
        CursorConnection[TaskType],
        description=f"Your tasks, at most {PAGE_SIZE} per page. Default order: createdAt.",
        permission_classes=[IsAuthenticated],
    )
    def tasks(
        self,
        info: Info,
        filter: TaskFilter | None = None,
        order: list[TaskOrder] | None = None,
    ) -> QuerySet[Task]:
        filter = filter or TaskFilter()
        refuse_naive(
            scheduled_after=filter.scheduled_after, scheduled_before=filter.scheduled_before
        )
        _check_title_contains(filter.title_contains)
        _check_order(order or [])
        return selectors.task_list(
            user=caller(info),
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
        "USER_MAX_TASKS (10,000 by default), the most tasks one user may have.",
        permission_classes=[IsAuthenticated],
    )
    def task_order(
        self, info: Info, root_id: strawberry.ID | None = None, first: int | None = None
    ) -> list[TaskType] | None:
        user = caller(info)
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
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @task_errors
    def task_create(self, info: Info, input: TaskCreateInput) -> TaskPayload:
        pre_task_pks = _pre_task_pks(input.pre_task_ids)
        task = services.task_create(
            owner=caller(info),
            title=input.title,
            description=input.description,
            scheduled_at=input.scheduled_at,
            pre_task_ids=pre_task_pks,
        )
        return TaskPayload(task=task)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @task_errors
    def task_update(self, info: Info, id: strawberry.ID, input: TaskUpdateInput) -> TaskPayload:
        changes = given(
            input,
            "title",
            "description",
            "scheduled_at",
            "pre_task_ids",
            not_null=("title", "description", "pre_task_ids"),
        )
        if "pre_task_ids" in changes:
            changes["pre_task_ids"] = _pre_task_pks(changes["pre_task_ids"])
        task = services.task_update_owned(user=caller(info), pk=decode_pk(id, "Task"), **changes)
        return TaskPayload(task=task)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @payload_errors
    def task_delete(self, info: Info, id: strawberry.ID) -> TaskDeletePayload:
        services.task_delete(task=_own_task_or_refuse(info, id))
        return TaskDeletePayload(deleted_id=id)

    @strawberry.mutation(
        description="Refused while a pre-task is open, unless force: true.",
        permission_classes=[IsAuthenticated],
    )
    @task_errors
    def task_complete(self, info: Info, id: strawberry.ID, force: bool = False) -> TaskPayload:
        task = _own_task_or_refuse(info, id)
        return TaskPayload(task=services.task_complete(task=task, force=force))

    task_add_pre_tasks = _pre_task_edit(
        services.task_pre_tasks_add,
        "Add pre-tasks (existing ones are a no-op). All or nothing: the call is refused if any "
        "ID is this task, not one of your tasks, or would close a cycle.",
    )
    task_remove_pre_tasks = _pre_task_edit(
        services.task_pre_tasks_remove,
        "Remove pre-tasks (IDs of your tasks that are not pre-tasks are a no-op).",
    )

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @payload_errors
    def task_reopen(self, info: Info, id: strawberry.ID) -> TaskPayload:
        return TaskPayload(task=services.task_reopen(task=_own_task_or_refuse(info, id)))
