"""The pre-task graph at scale: one user, 100,000 tasks, 300,000 edges, a 10,000-long chain.

    .venv/bin/python bench/graph.py [--small] [--repeat 21]                 # SQLite file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tg_graph_bench \\
        .venv/bin/python bench/graph.py                                     # PostgreSQL

Measures, each as the median of --repeat runs (and the SQL queries each needs):
- add_edge: add a pre-task to the chain's head, which the cycle check must walk the whole
  chain (10,000 descendants) to allow; the service call, commit included;
- refuse_cycle: add the chain's tail as a pre-task of its head: refused, the 10,000-task cycle
  named in the error;
- ready_page: `tasks(filter: {ready: true}, first: 50)` through GraphQL, in the default order
  (creation: the 10,000 blocked chain tasks come first, the worst case), by scheduledAt (ready
  and blocked tasks interleaved), and with totalCount (which must count every ready task);
- task_order: `taskOrder(rootId: tail)` over the chain's 10,000 tasks through GraphQL;
- ancestors: `ancestors` of the chain's tail (9,999 tasks with their depth) through GraphQL;
and, beside them, the reference: a naive walk in Python issuing one query per node, for the
cycle check and for the ancestors. Prints the medians and merges them into
bench/results/graph.json under the database's name (so a SQLite and a PostgreSQL run sit side
by side). --small: 10,000 tasks, 30,000 edges, a 1,000-long chain.
"""

import argparse
import gc
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import itertools

from bench.common import RESULTS, analyze, reset_database, setup_django, summarize

PROJECT_SIZE = 100


def seed(*, n_tasks: int, n_edges: int, chain_length: int):
    """A chain c0 -> c1 -> ... plus projects of 100 tasks with random edges inside each (each
    edge from an earlier to a later task of the project, so the graph stays acyclic)."""
    from datetime import UTC, datetime, timedelta

    from tasks.models import Task, TaskDependency, TaskStatus
    from users.models import User

    rng = random.Random(4)
    user = User.objects.create_user(email="graph@example.com", password="bench password 123")
    start = datetime(2030, 1, 1, tzinfo=UTC)

    def make(i: int, prefix: str, done: bool) -> Task:
        return Task(
            owner=user,
            title=f"{prefix} {i}",
            scheduled_at=start + timedelta(minutes=rng.randrange(500_000)) if i % 3 else None,
            status=TaskStatus.DONE if done else TaskStatus.OPEN,
            completed_at=start if done else None,
        )

    Task.objects.bulk_create(
        (make(i, "Chain", False) for i in range(chain_length)), batch_size=5000
    )
    Task.objects.bulk_create(
        (make(i, "Task", rng.random() < 0.3) for i in range(n_tasks - chain_length)),
        batch_size=5000,
    )
    ids = list(Task.objects.filter(owner=user).order_by("id").values_list("id", flat=True))
    chain, rest = ids[:chain_length], ids[chain_length:]
    edges = list(itertools.pairwise(chain))  # (pre_task, task)
    projects = [rest[i : i + PROJECT_SIZE] for i in range(0, len(rest), PROJECT_SIZE)]
    remaining = n_edges - len(edges)
    pairs = [(a, b) for b in range(PROJECT_SIZE) for a in range(b)]
    for index, project in enumerate(projects):
        share = remaining // len(projects) + (index < remaining % len(projects))
        local = [(a, b) for a, b in pairs if b < len(project)]
        edges.extend((project[a], project[b]) for a, b in rng.sample(local, share))
    TaskDependency.objects.bulk_create(
        (TaskDependency(pre_task_id=p, task_id=t) for p, t in edges), batch_size=5000
    )
    return user, chain, len(edges)


def vacuum_analyze() -> None:
    """Planner statistics and, on PostgreSQL, the visibility map that index-only scans need:
    what autovacuum gives a deployed database after a bulk load."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    else:
        analyze()


def timed(call, repeat: int, *, after=None) -> list[float]:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t0)
        if after:
            after()
    return samples


def count_queries(call) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    NAIVE_QUERIES[0] = 0
    with CaptureQueriesContext(connection) as ctx:
        call()
    return NAIVE_QUERIES[0] or len(ctx)


# Queries the naive walks issued (too many for Django's query log, which keeps 9,000).
NAIVE_QUERIES = [0]


def naive_descendants_reach(start: int, goal: int) -> bool:
    """The reference: a breadth-first walk issuing one query per node."""
    from tasks.models import TaskDependency

    seen, frontier = {start}, [start]
    while frontier:
        node = frontier.pop()
        NAIVE_QUERIES[0] += 1
        for nxt in TaskDependency.objects.filter(pre_task_id=node).values_list(
            "task_id", flat=True
        ):
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return False


def naive_ancestors(start: int) -> dict[int, int]:
    from tasks.models import TaskDependency

    depth, frontier = {start: 0}, [start]
    while frontier:
        following = []
        for node in frontier:
            NAIVE_QUERIES[0] += 1
            for pre in TaskDependency.objects.filter(task_id=node).values_list(
                "pre_task_id", flat=True
            ):
                if pre not in depth:
                    depth[pre] = depth[node] + 1
                    following.append(pre)
        frontier = following
    del depth[start]
    return depth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="10k tasks, 30k edges, 1k chain")
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--naive-repeat", type=int, default=3)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the graph a previous run seeded (PostgreSQL)"
    )
    args = parser.parse_args()
    n_tasks, n_edges, chain_length = (
        (10_000, 30_000, 1_000) if args.small else (100_000, 300_000, 10_000)
    )

    setup_django("graph.sqlite3")
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from tasks import graph_queries, selectors, services
    from tasks.models import Task, TaskDependency
    from tests.graphql import global_id
    from users.models import User

    settings.ALLOWED_HOSTS = ["testserver"]
    t0 = time.perf_counter()
    if args.reuse and connection.vendor == "postgresql":
        user = User.objects.get(email="graph@example.com")
        chain = list(
            Task.objects.filter(owner=user, title__startswith="Chain ")
            .order_by("id")
            .values_list("id", flat=True)
        )
        Task.objects.filter(owner=user, title="Outsider").delete()
        edges = TaskDependency.objects.count()
    else:
        reset_database()
        user, chain, edges = seed(n_tasks=n_tasks, n_edges=n_edges, chain_length=chain_length)
    vacuum_analyze()
    seeded_s = time.perf_counter() - t0
    head, tail = Task.objects.get(pk=chain[0]), Task.objects.get(pk=chain[-1])
    outsider = Task.objects.create(owner=user, title="Outsider")

    client = Client()
    client.force_login(user)

    def graphql(query: str, variables: dict | None = None) -> dict:
        response = client.post(
            "/graphql/",
            json.dumps({"query": query, "variables": variables or {}}),
            content_type="application/json",
        )
        body = json.loads(response.content)
        assert response.status_code == 200 and "errors" not in body, body
        return body["data"]

    def add_edge():
        services.task_pre_tasks_add(task=head, pre_task_ids=[outsider.pk])

    def drop_edge():
        TaskDependency.objects.filter(task=head, pre_task=outsider).delete()

    def refuse_cycle():
        try:
            services.task_pre_tasks_add(task=head, pre_task_ids=[tail.pk])
        except services.PreTaskCycleError as exc:
            assert len(exc.cycle) == chain_length + 1
        else:
            raise AssertionError("the cycle was not refused")

    ready = "query R { tasks(filter: {ready: true}, first: 50) { edges { node { id title } } } }"
    ready_count = ready.replace("{ edges", "{ totalCount edges")
    ready_by_schedule = ready.replace("first: 50", "first: 50, order: [{field: SCHEDULED_AT}]")
    order = "query O($id: ID!) { taskOrder(rootId: $id) { id title } }"
    ancestors = "query A($id: ID!) { task(id: $id) { ancestors { depth task { id title } } } }"
    tail_id = {"id": global_id("Task", tail.pk)}

    def ready_page():
        assert len(graphql(ready)["tasks"]["edges"]) == 50

    def ready_page_by_schedule():
        assert len(graphql(ready_by_schedule)["tasks"]["edges"]) == 50

    def ready_page_count():
        graphql(ready_count)

    def task_order():
        assert len(graphql(order, tail_id)["taskOrder"]) == chain_length

    def task_ancestors():
        assert len(graphql(ancestors, tail_id)["task"]["ancestors"]) == chain_length - 1

    def check_only():
        assert not graph_queries.reaches(start=head.pk, goals=[outsider.pk])

    def naive_check():
        assert not naive_descendants_reach(head.pk, outsider.pk)

    def naive_ancestors_of_tail():
        assert len(naive_ancestors(tail.pk)) == chain_length - 1

    def ready_page_sql():
        assert len(list(selectors.task_list(user=user, ready=True).only("id", "title")[:50])) == 50

    def ancestors_selector():
        assert len(selectors.task_ancestors(task=tail)) == chain_length - 1

    def order_ids_only():
        tasks = selectors.task_order_scope(user=user, root=tail).only("id", "title")
        assert len(selectors.task_order(user=user, root=tail, tasks=tasks)) == chain_length

    cases = {
        "add_edge": dict(call=add_edge, after=drop_edge),
        "cycle_check_query": dict(call=check_only),
        "refuse_cycle": dict(call=refuse_cycle),
        "ready_page": dict(call=ready_page),
        "ready_page_by_schedule": dict(call=ready_page_by_schedule),
        "ready_page_with_total_count": dict(call=ready_page_count),
        "ready_page_sql": dict(call=ready_page_sql),
        "task_order": dict(call=task_order),
        "task_order_selector": dict(call=order_ids_only),
        "ancestors": dict(call=task_ancestors),
        "ancestors_selector": dict(call=ancestors_selector),
        "naive_cycle_check": dict(call=naive_check, naive=True),
        "naive_ancestors": dict(call=naive_ancestors_of_tail, naive=True),
    }
    gc.collect()
    gc.freeze()
    queries, samples = {}, {name: [] for name in cases}
    for name, case in cases.items():
        queries[name] = count_queries(case["call"])
        if case.get("after"):
            case["after"]()
        if not case.get("naive"):
            timed(case["call"], 1, after=case.get("after"))  # warm-up
    # Round-robin, so that load from elsewhere on the machine hits every case alike.
    for round_ in range(max(args.repeat, args.naive_repeat)):
        for name, case in cases.items():
            if round_ < (args.naive_repeat if case.get("naive") else args.repeat):
                samples[name].extend(timed(case["call"], 1, after=case.get("after")))
    results = {}
    for name in cases:
        results[name] = {**summarize(samples[name]), "sql_queries": queries[name]}
        print(
            f"{name:28s} median {results[name]['median_ms']:9.2f} ms  "
            f"p95 {results[name]['p95_ms']:9.2f} ms  {queries[name]:6d} SQL queries",
            flush=True,
        )

    vendor = connection.vendor
    entry = {
        "database": vendor,
        "tasks": Task.objects.count(),
        "edges": edges,
        "chain_length": chain_length,
        "small": args.small,
        "seed_seconds": round(seeded_s, 1),
        "results": results,
    }
    path = RESULTS / ("graph-small.json" if args.small else "graph.json")
    merged = json.loads(path.read_text()) if path.exists() else {}
    merged[vendor] = entry
    path.write_text(json.dumps(merged, indent=2) + "\n")
    print(f"{vendor}: {entry['tasks']} tasks, {edges} edges, chain {chain_length}; wrote {path}")


if __name__ == "__main__":
    main()
