"""Task types: thin projections of the models, with the graph's computed fields."""

from typing import TYPE_CHECKING, Annotated

import strawberry
import strawberry_django
from django.db.models import Prefetch, QuerySet
from strawberry import Info, auto
from strawberry_django.optimizer import optimize

from schema.fastpath import ColumnField, fast_node_id
from schema.ids import ModelNode
from tasks import selectors
from tasks.models import Task, TaskStatus
from tasks.selectors import task_visible

if TYPE_CHECKING:
    from schema.reminders import ReminderType

# Derived from the model's choices: a new status is one edit, in the model.
TaskStatusEnum = strawberry.enum(TaskStatus, name="TaskStatus")


def _walk(selector, description: str):
    """A field listing the tasks ``selector`` reaches through the graph, with their depth."""

    def resolve(self, root: Task, max_depth: int | None = None) -> list["TaskAtDepth"]:
        return [
            TaskAtDepth(task=item.task, depth=item.depth)
            for item in selector(task=root, max_depth=max_depth)
        ]

    return strawberry_django.field(resolve, description=description, only=["owner_id"])


@fast_node_id
@strawberry_django.type(Task, name="Task", field_cls=ColumnField)
class TaskType(ModelNode):
    title: auto
    description: auto
    scheduled_at: auto
    status: TaskStatusEnum
    completed_at: auto
    created_at: auto
    updated_at: auto

    @strawberry_django.field(
        description="Tasks that must be done before this one, by id.",
        prefetch_related=[lambda info: _edge_prefetch("pre_tasks", info)],
    )
    def pre_tasks(self, info: Info) -> list["TaskType"]:
        return _related_tasks(self, "pre_tasks", info)

    @strawberry_django.field(
        description="Tasks that list this one as a pre-task, by id.",
        prefetch_related=[lambda info: _edge_prefetch("dependents", info)],
    )
    def dependents(self, info: Info) -> list["TaskType"]:
        return _related_tasks(self, "dependents", info)

    reminders: list[Annotated["ReminderType", strawberry.lazy("schema.reminders")]] = (
        strawberry_django.field(description="Email reminders, by time.", field_cls=ColumnField)
    )

    # The graph fields below are planned by the optimizer where they can be (an EXISTS
    # annotation, filtered prefetches): a list of tasks costs the same queries whatever its
    # length. On objects the optimizer did not load (mutation payloads) they query directly.

    @strawberry_django.field(
        description="True when no pre-task is open.",
        annotate={"graph_blocked": lambda info: selectors.has_open_pre_task()},
    )
    def is_ready(self, root: Task) -> bool:
        blocked = getattr(root, "graph_blocked", None)
        return not blocked if blocked is not None else selectors.task_is_ready(task=root)

    @strawberry_django.field(
        description="Open pre-tasks. With transitive: every open ancestor (one recursive "
        "query per task).",
        only=["owner_id"],
        prefetch_related=[
            lambda info: Prefetch(
                "pre_tasks",
                queryset=selectors.schedule_ordered(Task.objects.filter(status=TaskStatus.OPEN)),
                to_attr="graph_open_pre_tasks",
            )
        ],
    )
    def blockers(self, root: Task, transitive: bool = False) -> list["TaskType"]:
        if transitive:
            return list(selectors.task_blockers(task=root, transitive=True))
        prefetched = getattr(root, "graph_open_pre_tasks", None)
        if prefetched is not None:
            return prefetched
        return list(selectors.task_blockers(task=root))

    @strawberry_django.field(
        description="Pre-tasks scheduled after this task: its schedule cannot be kept.",
        only=["scheduled_at", "owner_id"],
        prefetch_related=[
            lambda info: Prefetch(
                "pre_tasks",
                queryset=selectors.schedule_ordered(
                    Task.objects.filter(scheduled_at__isnull=False)
                ),
                to_attr="graph_scheduled_pre_tasks",
            )
        ],
    )
    def schedule_conflicts(self, root: Task) -> list["TaskType"]:
        prefetched = getattr(root, "graph_scheduled_pre_tasks", None)
        if prefetched is not None:
            return selectors.schedule_conflicts_among(task=root, pre_tasks=prefetched)
        return list(selectors.task_schedule_conflicts(task=root))

    ancestors = _walk(
        selectors.task_ancestors,
        "Every task this one waits for, transitively, nearest first (depth 1 = pre-task). "
        "A fixed number of queries per task, whatever the graph's size.",
    )
    descendants = _walk(
        selectors.task_descendants,
        "Every task waiting for this one, transitively, nearest first (depth 1 = dependent).",
    )

    @classmethod
    def get_queryset(cls, queryset: QuerySet[Task], info: Info, **kwargs) -> QuerySet[Task]:
        # Applied to every list, node lookup and prefetch of tasks: the owner filter lives here.
        return queryset & task_visible(user=info.context.request.user)


def _edge_prefetch(relation: str, info: Info) -> Prefetch:
    """One query for a relation of a whole page of tasks, planned for the nested selection.

    With `to_attr`, Django hands each task a plain list; the default prefetch would build a
    related manager and a filtered queryset per task only to store the same rows (a third of
    a 50-task page's time).
    """
    queryset = TaskType.get_queryset(Task.objects.order_by("id"), info)
    return Prefetch(relation, queryset=optimize(queryset, info), to_attr=f"{relation}_prefetched")


def _related_tasks(task: Task, relation: str, info: Info):
    prefetched = getattr(task, f"{relation}_prefetched", None)
    if prefetched is not None:
        return prefetched
    # Not planned by the optimizer (a mutation payload): the same rows, in the same order.
    return TaskType.get_queryset(getattr(task, relation).order_by("id"), info)


@strawberry.type(description="A task reached through the pre-task graph, and how far away it is.")
class TaskAtDepth:
    depth: int = strawberry.field(description="Edges on the shortest path; 1 = direct.")
    task: TaskType
