"""Recursive SQL over the pre-task graph (WITH RECURSIVE: the same text runs on SQLite and
PostgreSQL). Each function is one query, whatever the size of the graph.

These walk edges only: callers restrict to one owner by where they start, since both ends of
every edge belong to the same owner.
"""

from collections.abc import Collection

from django.db import connection
from django.db.models.expressions import RawSQL

from tasks.models import Task, TaskDependency

EDGES = TaskDependency._meta.db_table
TASKS = Task._meta.db_table

# Walk towards pre-tasks (ancestors) or towards dependents (descendants). UNION, not UNION ALL:
# each node enters the walk once, so a diamond-rich graph costs its edges, not its paths.
_ANCESTORS = f"""
ancestors(id) AS (
    SELECT CAST(%s AS BIGINT)
    UNION
    SELECT e.pre_task_id FROM {EDGES} e JOIN ancestors a ON e.task_id = a.id
)"""
_DESCENDANTS = f"""
descendants(id) AS (
    SELECT CAST(%s AS BIGINT)
    UNION
    SELECT e.task_id FROM {EDGES} e JOIN descendants d ON e.pre_task_id = d.id
)"""


def _placeholders(values: Collection) -> str:
    return ", ".join(["%s"] * len(values))


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def reaches(*, start: int, goals: Collection[int]) -> bool:
    """Whether some goal is a descendant of ``start`` (can only be done after it).

    This is the cycle check: adding pre-task P to task T closes a cycle exactly when P already
    (transitively) depends on T. The walk stops at the first goal found.
    """
    if not goals:
        return False
    sql = (
        f"WITH RECURSIVE {_DESCENDANTS} "
        f"SELECT 1 FROM descendants WHERE id IN ({_placeholders(goals)}) LIMIT 1"
    )
    return bool(_fetch(sql, [start, *goals]))


def ancestor_edges(*, task_ids: Collection[int]) -> list[tuple[int, int]]:
    """Every edge (pre-task, dependent) among these tasks and their ancestors.

    This also names a cycle once one is known to exist: every path from the task being edited
    down to a pre-task being added lies among the pre-task's ancestors.
    """
    sql = f"""
        WITH RECURSIVE ancestors(id) AS (
            SELECT id FROM {TASKS} WHERE id IN ({_placeholders(task_ids)})
            UNION
            SELECT e.pre_task_id FROM {EDGES} e JOIN ancestors a ON e.task_id = a.id
        )
        SELECT e.pre_task_id, e.task_id FROM {EDGES} e JOIN ancestors a ON e.task_id = a.id
    """
    return _fetch(sql, list(task_ids))


def descendant_edges(*, task_id: int) -> list[tuple[int, int]]:
    """Every edge (pre-task, dependent) among the task and its descendants."""
    sql = (
        f"WITH RECURSIVE {_DESCENDANTS} "
        f"SELECT e.pre_task_id, e.task_id FROM {EDGES} e JOIN descendants d ON e.pre_task_id = d.id"
    )
    return _fetch(sql, [task_id])


def owner_edges(*, owner_id: int) -> list[tuple[int, int]]:
    """Every edge (pre-task, dependent) of one owner's graph."""
    sql = (
        f"SELECT e.pre_task_id, e.task_id FROM {EDGES} e "
        f"JOIN {TASKS} t ON t.id = e.task_id WHERE t.owner_id = %s"
    )
    return _fetch(sql, [owner_id])


# One step of a walk: (the column reached, the column walked from).
_STEPS = {"ancestors": ("pre_task_id", "task_id"), "descendants": ("task_id", "pre_task_id")}


def walk_edges(*, task_id: int, direction: str, limit: int) -> list[tuple[int, int]]:
    """The edges (from, to), in the walk's direction, among the first ``limit`` tasks that a
    breadth-first walk from the task reaches (the task itself included).

    Both databases produce a recursive query's rows level by level, nearest first, and stop
    walking once the limit is reached (PostgreSQL fetches a CTE's rows only as its reader asks
    for them; SQLite takes the limit in the recursive step itself), so the walk costs the
    limit, not the graph. The first ``limit`` tasks include every task nearer than the
    farthest of them, so shortest distances computed over these edges are exact.
    """
    reached, walked_from = _STEPS[direction]
    # Inlined as an integer: SQLite takes no parameter in a recursive step's LIMIT.
    step_limit = f" LIMIT {int(limit)}" if connection.vendor == "sqlite" else ""
    sql = f"""
        WITH RECURSIVE walk(id) AS (
            SELECT CAST(%s AS BIGINT)
            UNION
            SELECT e.{reached} FROM {EDGES} e JOIN walk w ON e.{walked_from} = w.id{step_limit}
        ),
        near AS (SELECT id FROM walk LIMIT %s)
        SELECT e.{walked_from}, e.{reached} FROM {EDGES} e
        WHERE e.{walked_from} IN (SELECT id FROM near) AND e.{reached} IN (SELECT id FROM near)
    """
    return _fetch(sql, [task_id, limit])


def ancestor_ids(*, task_id: int, include_self: bool = False) -> RawSQL:
    """A subquery of the task's ancestors' ids, for ``filter(pk__in=...)``."""
    where = "" if include_self else " WHERE id <> %s"
    params = (task_id,) if include_self else (task_id, task_id)
    return RawSQL(f"WITH RECURSIVE {_ANCESTORS} SELECT id FROM ancestors{where}", params)


def descendant_ids(*, task_id: int) -> RawSQL:
    """A subquery of the task's descendants' ids, for ``filter(pk__in=...)``."""
    return RawSQL(
        f"WITH RECURSIVE {_DESCENDANTS} SELECT id FROM descendants WHERE id <> %s",
        (task_id, task_id),
    )
