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


def _step(cte: str, reached: str, walked_from: str) -> str:
    """The recursive step of a walk: the tasks one edge away from those in ``cte``.

    PostgreSQL plans a recursive step once, for a guessed handful of rows, and then tends to
    hash the whole edge table at every level (a 1,000-task chain: 1,000 sequential scans). A
    LATERAL subquery, kept apart by OFFSET 0 (which stops the planner from flattening it back
    into that join), makes each step an index lookup per task reached, whatever the
    statistics say. SQLite always joins through the index.
    """
    if connection.vendor == "postgresql":
        return (
            f"SELECT x.id FROM {cte} w CROSS JOIN LATERAL "
            f"(SELECT e.{reached} AS id FROM {EDGES} e WHERE e.{walked_from} = w.id OFFSET 0) x"
        )
    return f"SELECT e.{reached} FROM {EDGES} e JOIN {cte} w ON e.{walked_from} = w.id"


# Walk towards pre-tasks (ancestors) or towards dependents (descendants). UNION, not UNION ALL:
# each node enters the walk once, so a diamond-rich graph costs its edges, not its paths.
def _ancestors() -> str:
    step = _step("ancestors", "pre_task_id", "task_id")
    return f"ancestors(id) AS (SELECT CAST(%s AS BIGINT) UNION {step})"


def _descendants() -> str:
    step = _step("descendants", "task_id", "pre_task_id")
    return f"descendants(id) AS (SELECT CAST(%s AS BIGINT) UNION {step})"


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
        f"WITH RECURSIVE {_descendants()} "
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
            {_step("ancestors", "pre_task_id", "task_id")}
        )
        SELECT e.pre_task_id, e.task_id FROM {EDGES} e JOIN ancestors a ON e.task_id = a.id
    """
    return _fetch(sql, list(task_ids))


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
    step = _step("walk", reached, walked_from)
    if connection.vendor == "postgresql":
        edges = (
            f"SELECT n.id, x.id FROM near n CROSS JOIN LATERAL "
            f"(SELECT e.{reached} AS id FROM {EDGES} e WHERE e.{walked_from} = n.id OFFSET 0) x "
            "WHERE x.id IN (SELECT id FROM near)"
        )
    else:
        # Inlined as an integer: SQLite takes no parameter in a recursive step's LIMIT.
        step += f" LIMIT {int(limit)}"
        edges = (
            f"SELECT e.{walked_from}, e.{reached} FROM {EDGES} e "
            f"WHERE e.{walked_from} IN (SELECT id FROM near) "
            f"AND e.{reached} IN (SELECT id FROM near)"
        )
    sql = f"""
        WITH RECURSIVE walk(id) AS (SELECT CAST(%s AS BIGINT) UNION {step}),
        near AS (SELECT id FROM walk LIMIT %s)
        {edges}
    """
    return _fetch(sql, [task_id, limit])


def ancestor_ids(*, task_id: int, include_self: bool = False) -> RawSQL:
    """A subquery of the task's ancestors' ids, for ``filter(pk__in=...)``."""
    where = "" if include_self else " WHERE id <> %s"
    params = (task_id,) if include_self else (task_id, task_id)
    return RawSQL(f"WITH RECURSIVE {_ancestors()} SELECT id FROM ancestors{where}", params)
