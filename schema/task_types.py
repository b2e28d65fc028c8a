"""Task types: thin projections of the models, with the graph's computed fields."""

from typing import TYPE_CHECKING, Annotated

import strawberry
import strawberry_django
from django.conf import settings
from django.db.models import Prefetch, QuerySet
from strawberry import Info, auto
from strawberry_django.optimizer import optimize

from schema.connections import PAGE_SIZE, bounded_first
from schema.errors import ArgumentError
from schema.fastpath import ColumnField, fast_node_id
from schema.ids import ModelNode
from schema.validation import argument_value
from tasks import selectors
from tasks.models import Task, TaskStatus

if TYPE_CHECKING:
    from schema.reminders import ReminderType

# Derived from the model's choices: a new status is one edit, in the model.
TaskStatusEnum = strawberry.enum(TaskStatus, name="TaskStatus")


MAX_DEPTH = 1000


def _walk(selector, description: str):
    """A field with the tasks ``selector`` reaches through the graph, their depth, and whether
    the cap cut the read."""

    def resolve(
        self, root: Task, max_depth: int | None = None, first: int | None = None
    ) -> "TaskReachType":
        if max_depth is not None and not 1 <= max_depth <= MAX_DEPTH:
            raise ArgumentError(
                f"maxDepth must be between 1 and {MAX_DEPTH} (leave it out for every depth).",
                "out_of_range",
            )
        limit = bounded_first(first, settings.GRAPHQL_MAX_TRANSITIVE)
        reach = selector(task=root, max_depth=max_depth, limit=limit)
        return TaskReachType(
            items=[TaskAtDepth(task=item.task, depth=item.depth) for item in reach.items],
            truncated=reach.truncated,
        )

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
        description="Tasks that must be done before this one, by id: at most "
        "TASK_MAX_PRE_TASKS (50 by default), the most a task may have.",
        prefetch_related=[lambda info: _edge_prefetch("pre_tasks", info)],
    )
    def pre_tasks(self, info: Info) -> list["TaskType"]:
        return _related_tasks(self, "pre_tasks", info)

    @strawberry_django.field(
        description="Tasks that list this one as a pre-task, by id: the first `first`, at most "
        "100 (the default).",
        prefetch_related=[
            lambda info: _edge_prefetch("dependents", info, limit=_dependents_limit(info))
        ],
    )
    def dependents(self, info: Info, first: int | None = None) -> list["TaskType"]:
        limit = bounded_first(first, PAGE_SIZE)
        return _related_tasks(self, "dependents", info, limit=limit)

    reminders: list[Annotated["ReminderType", strawberry.lazy("schema.reminders")]] = (
        strawberry_django.field(
            description="Email reminders, by time: at most TASK_MAX_REMINDERS (10 by default), "
            "the most a task may have.",
            field_cls=ColumnField,
        )
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
        "The tasks this one waits for, transitively, nearest first (depth 1 = pre-task): at "
        "most `first`, never more than GRAPHQL_MAX_TRANSITIVE (200 by default); `truncated` "
        "says when some were left out. A fixed number of queries per task.",
    )
    descendants = _walk(
        selectors.task_descendants,
        "The tasks waiting for this one, transitively, nearest first (depth 1 = dependent), "
        "bounded like `ancestors`.",
    )

    @classmethod
    def get_queryset(cls, queryset: QuerySet[Task], info: Info, **kwargs) -> QuerySet[Task]:
        # Applied to every list, node lookup and prefetch of tasks: the owner filter lives here.
        return selectors.task_visible_within(user=info.context.request.user, queryset=queryset)


def _edge_prefetch(relation: str, info: Info, limit: int | None = None) -> Prefetch:
    """One query for a relation of a whole page of tasks, planned for the nested selection.

    With `to_attr`, Django hands each task a plain list; the default prefetch would build a
    related manager and a filtered queryset per task only to store the same rows (a third of
    a 50-task page's time). With a limit, Django slices each task's list in SQL (a window
    function); the limit is part of the attribute so that aliases asking for different
    sizes get their own lists.
    """
    queryset = optimize(TaskType.get_queryset(Task.objects.order_by("id"), info), info)
    if limit is not None:
        queryset = queryset[:limit]
    return Prefetch(relation, queryset=queryset, to_attr=_prefetched_attr(relation, limit))


def _prefetched_attr(relation: str, limit: int | None) -> str:
    return f"{relation}_prefetched" if limit is None else f"{relation}_prefetched_{limit}"


def _dependents_limit(info: Info) -> int:
    # The prefetch is planned before the resolver checks `first`: clamp here, refuse there.
    cap = PAGE_SIZE
    raw = info._raw_info
    first = argument_value(raw.field_nodes[0], "first", raw.variable_values)
    return min(max(first, 0), cap) if isinstance(first, int) else cap


def _related_tasks(task: Task, relation: str, info: Info, limit: int | None = None):
    prefetched = getattr(task, _prefetched_attr(relation, limit), None)
    if prefetched is not None:
        return prefetched
    # Not planned by the optimizer (a mutation payload): the same rows, in the same order.
    queryset = TaskType.get_queryset(getattr(task, relation).order_by("id"), info)
    return queryset if limit is None else list(queryset[:limit])


@strawberry.type(description="A task reached through the pre-task graph, and how far away it is.")
class TaskAtDepth:
    depth: int = strawberry.field(description="Edges on the shortest path; 1 = direct.")
    task: TaskType


@strawberry.type(name="TaskReach", description="The tasks a transitive read found.")
class TaskReachType:
    items: list[TaskAtDepth] = strawberry.field(description="Nearest first, then by schedule.")
    truncated: bool = strawberry.field(
        description="True when the read stopped at its cap: more tasks lie beyond."
    )
