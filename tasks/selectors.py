"""Reads on tasks. Every read starts from the caller's own tasks: another user's tasks are
indistinguishable from tasks that do not exist."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from django.conf import settings
from django.db.models import Exists, F, OrderBy, OuterRef, QuerySet

from tasks import graph, graph_queries
from tasks.models import Task, TaskDependency, TaskStatus
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


def task_visible_within(*, user: User, queryset: QuerySet[Task]) -> QuerySet[Task]:
    """``queryset`` restricted to the user's tasks.

    A queryset that already says ``owner_id = <user>`` (every selector's does) is returned as
    it is: the same condition twice makes PostgreSQL's planner square its selectivity and
    expect a handful of rows where there are thousands (a nested loop instead of a hash join).
    """
    if user.is_authenticated and _filters_owner(queryset, user.pk):
        return queryset
    return queryset & task_visible(user=user)


def _filters_owner(queryset: QuerySet[Task], owner_id: int) -> bool:
    where = queryset.query.where
    if where.connector != "AND" or where.negated:
        return False
    for child in where.children:
        lhs = getattr(child, "lhs", None)
        if (
            getattr(child, "lookup_name", None) == "exact"
            and getattr(getattr(lhs, "target", None), "attname", None) == "owner_id"
            and getattr(lhs, "alias", None) == queryset.query.base_table
            and child.rhs == owner_id
        ):
            return True
    return False


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
    ready: bool | None = None,
    blocked: bool | None = None,
    ordering: Sequence[TaskOrdering] = (),
) -> QuerySet[Task]:
    """The user's tasks, filtered and in a total order (ties broken by id).

    ``scheduled_after`` and ``scheduled_before`` are inclusive bounds; either excludes
    unscheduled tasks. ``ready`` means no open pre-task, ``blocked`` at least one: both are
    one correlated EXISTS in the same query.
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
    if ready is not None:
        qs = qs.filter(~has_open_pre_task() if ready else has_open_pre_task())
    if blocked is not None:
        qs = qs.filter(has_open_pre_task() if blocked else ~has_open_pre_task())
    return qs.order_by(*_order_by(ordering))


def task_pks_owned(*, user: User, pks: Iterable[int]) -> set[int]:
    """Which of these primary keys name tasks of this user."""
    wanted = set(pks)
    if not wanted:
        return set()
    return set(task_visible(user=user).filter(pk__in=wanted).values_list("pk", flat=True))


# The pre-task graph. Readiness is an SQL expression so lists filter and annotate on it; the
# transitive reads are recursive queries (tasks.graph_queries), a fixed number per task.


def has_open_pre_task() -> Exists:
    """True for tasks with at least one open pre-task (usable in filter() and annotate())."""
    return Exists(
        TaskDependency.objects.filter(task_id=OuterRef("pk"), pre_task__status=TaskStatus.OPEN)
    )


def task_is_ready(*, task: Task) -> bool:
    return not TaskDependency.objects.filter(
        task_id=task.pk, pre_task__status=TaskStatus.OPEN
    ).exists()


def schedule_ordered(qs: QuerySet[Task]) -> QuerySet[Task]:
    """Earliest scheduled first, unscheduled last (on every database), then by id."""
    return qs.order_by(F("scheduled_at").asc(nulls_last=True), "id")


def task_blockers(*, task: Task, transitive: bool = False) -> QuerySet[Task]:
    """Open pre-tasks of the task; with ``transitive``, the open tasks among its nearest
    GRAPHQL_MAX_TRANSITIVE ancestors (``task_ancestors`` tells whether there are more)."""
    if transitive:
        limit = settings.GRAPHQL_MAX_TRANSITIVE
        edges = graph_queries.walk_edges(task_id=task.pk, direction="ancestors", limit=limit + 1)
        nearest = sorted(graph.depths(edges, start=task.pk).items(), key=lambda item: item[1])
        qs = Task.objects.filter(pk__in=[pk for pk, _ in nearest[:limit]])
    else:
        qs = Task.objects.filter(dependent_links__task_id=task.pk)
    return schedule_ordered(qs.filter(owner_id=task.owner_id, status=TaskStatus.OPEN))


def task_schedule_conflicts(*, task: Task) -> QuerySet[Task]:
    """Pre-tasks scheduled after the task itself: the schedule cannot be kept."""
    if task.scheduled_at is None:
        return Task.objects.none()
    return schedule_ordered(
        Task.objects.filter(
            dependent_links__task_id=task.pk,
            owner_id=task.owner_id,
            scheduled_at__gt=task.scheduled_at,
        )
    )


def schedule_conflicts_among(*, task: Task, pre_tasks: Iterable[Task]) -> list[Task]:
    """The same rule over already loaded pre-tasks (a prefetch), with no query."""
    if task.scheduled_at is None:
        return []
    return [p for p in pre_tasks if p.scheduled_at and p.scheduled_at > task.scheduled_at]


@dataclass(frozen=True, slots=True)
class TaskAtDepth:
    task: Task
    depth: int


@dataclass(frozen=True, slots=True)
class TaskReach:
    """The tasks a transitive read found, nearest first, and whether the cap cut it short."""

    items: list[TaskAtDepth]
    truncated: bool


def _reach(
    *, task: Task, direction: str, max_depth: int | None, limit: int
) -> tuple[dict[int, int], bool]:
    """Distances of the nearest ``limit`` tasks in the direction; True if more exist (within
    ``max_depth``)."""
    # The task itself and one more than the limit: that one tells whether it cut anything.
    edges = graph_queries.walk_edges(task_id=task.pk, direction=direction, limit=limit + 2)
    distances = graph.depths(edges, start=task.pk)
    truncated = len(distances) > limit
    if truncated:
        # Breadth-first: the extra task is among the farthest found. It proves a cut only if
        # it is within max_depth (beyond it, nothing nearer can be missing).
        farthest = max(distances.values())
        truncated = max_depth is None or farthest <= max_depth
    if max_depth is not None:
        distances = {pk: d for pk, d in distances.items() if d <= max_depth}
    return distances, truncated


def _at_depths(distances: dict[int, int], *, owner_id: int, limit: int) -> list[TaskAtDepth]:
    if not distances:
        return []
    tasks = Task.objects.filter(owner_id=owner_id, pk__in=list(distances))
    found = [TaskAtDepth(t, distances[t.pk]) for t in tasks]
    found.sort(key=lambda i: (i.depth, *_schedule_key(i.task.pk, i.task.scheduled_at)))
    return found[:limit]


def task_ancestors(
    *, task: Task, max_depth: int | None = None, limit: int | None = None
) -> TaskReach:
    """The tasks this one (transitively) waits for, nearest first; depth 1 = direct pre-task.
    At most ``limit`` (GRAPHQL_MAX_TRANSITIVE by default); ``truncated`` says when some were
    left out. Two queries: the bounded walk's edges, then the rows."""
    limit = _transitive_limit(limit)
    distances, truncated = _reach(
        task=task, direction="ancestors", max_depth=max_depth, limit=limit
    )
    return TaskReach(_at_depths(distances, owner_id=task.owner_id, limit=limit), truncated)


def task_descendants(
    *, task: Task, max_depth: int | None = None, limit: int | None = None
) -> TaskReach:
    """The tasks that (transitively) wait for this one, nearest first; bounded likewise."""
    limit = _transitive_limit(limit)
    distances, truncated = _reach(
        task=task, direction="descendants", max_depth=max_depth, limit=limit
    )
    return TaskReach(_at_depths(distances, owner_id=task.owner_id, limit=limit), truncated)


def _transitive_limit(limit: int | None) -> int:
    cap = settings.GRAPHQL_MAX_TRANSITIVE
    return cap if limit is None else max(0, min(limit, cap))


def _schedule_key(pk: int, scheduled_at: datetime | None) -> tuple:
    # Unscheduled last; the leading flag keeps None from ever being compared with a datetime.
    return (0, scheduled_at, pk) if scheduled_at is not None else (1, 0, pk)


def task_order_scope(*, user: User, root: Task | None = None) -> QuerySet[Task]:
    """The tasks task_order() orders: all the user's, or one task and its ancestors."""
    qs = task_visible(user=user)
    if root is not None:
        qs = qs.filter(pk__in=graph_queries.ancestor_ids(task_id=root.pk, include_self=True))
    return qs


def task_order(
    *, user: User, root: Task | None = None, tasks: QuerySet[Task] | None = None
) -> list[Task]:
    """The tasks in a topological order (every task after its pre-tasks), ties broken by
    scheduled_at (unscheduled last), then id. Two queries: the tasks, then the edges.

    ``tasks`` is task_order_scope() with whatever the caller wants loaded (e.g. only()).
    """
    tasks = task_order_scope(user=user, root=root) if tasks is None else tasks
    # The database sorts by schedule, and the positions become the tie-breaking keys: no
    # timestamps cross the wire (psycopg's time zone loader runs in Python).
    rows = list(schedule_ordered(tasks))
    by_pk = {task.pk: task for task in rows}
    nodes = {task.pk: position for position, task in enumerate(rows)}
    if root is None:
        edges = graph_queries.owner_edges(owner_id=user.pk)
    else:
        edges = graph_queries.ancestor_edges(task_ids=[root.pk])
    return [by_pk[pk] for pk in graph.topological_order(nodes, edges)]
