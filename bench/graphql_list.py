"""GraphQL `tasks(first: 50)` with preTasks against a hand-written Django view (the floor),
a Django REST framework view (what users would pick instead) and a values_list view (lean).

All go through Django's full request handling in this process (Django's test client:
middleware, session auth, JSON encoding; DEBUG off, so no per-query logging), on the same
rows, with the same SQL, interleaved request by request so drift hits them alike. Every view
must return the same data as GraphQL.

    .venv/bin/python bench/graphql_list.py [--requests 500] [--tasks 1000]

Prints median and p95 latency, the ratios GraphQL/floor and GraphQL/DRF and SQL queries per
request; writes bench/results/graphql_list_<database>.json. Set DATABASE_URL to measure on
PostgreSQL.
"""

import argparse
import gc
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import analyze, reset_database, setup_django, summarize, write_json

QUERY = """
query List {
  tasks(first: 50) {
    edges { node { id title status scheduledAt preTasks { id title } } }
  }
}
"""


def seed(n_tasks: int):
    from datetime import UTC, datetime, timedelta

    from tasks.models import Task, TaskDependency
    from users.models import User

    rng = random.Random(7)
    user = User.objects.create_user(email="bench@example.com", password="bench password 123")
    start = datetime(2030, 1, 1, tzinfo=UTC)
    Task.objects.bulk_create(
        Task(
            owner=user,
            title=f"Task {i}",
            scheduled_at=start + timedelta(hours=i) if i % 3 else None,
        )
        for i in range(n_tasks)
    )
    ids = list(Task.objects.filter(owner=user).order_by("id").values_list("id", flat=True))
    edges = set()
    for position, task_id in enumerate(ids[1:], start=1):
        for pre in rng.sample(ids[:position], k=min(position, rng.randint(0, 3))):
            edges.add((task_id, pre))
    TaskDependency.objects.bulk_create(TaskDependency(task_id=t, pre_task_id=p) for t, p in edges)
    return user, len(edges)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()

    setup_django("graphql_list.sqlite3")
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    settings.ALLOWED_HOSTS = ["testserver"]
    # As in production: with DEBUG on, every SQL query would also be logged in memory.
    settings.DEBUG = False
    # One client sends hundreds of lists a minute: measure the list, not the throttle (the
    # pricing itself still runs on every request).
    settings.GRAPHQL_COST_PER_MINUTE = 10**12
    reset_database()
    user, n_edges = seed(args.tasks)
    analyze()

    with override_settings(ROOT_URLCONF="bench.floor_urls"):
        client = Client()
        client.force_login(user)
        body = json.dumps({"query": QUERY})

        def graphql():
            return client.post("/graphql/", body, content_type="application/json")

        def floor():
            return client.get("/floor/tasks/")

        def drf():
            return client.get("/floor/drf/")

        def lean():
            return client.get("/floor/lean/")

        calls = {"graphql": graphql, "floor": floor, "drf": drf, "lean": lean}
        # The floor views answer the data; GraphQL adds its cost under `extensions`.
        answer = json.loads(graphql().content)
        assert "errors" not in answer, answer["errors"]
        expected = {"data": answer["data"]}
        nodes = [edge["node"] for edge in expected["data"]["tasks"]["edges"]]
        assert len(nodes) == 50 and sum(len(node["preTasks"]) for node in nodes) > 50
        for name in ("floor", "lean"):
            got = json.loads(calls[name]().content)
            assert got == expected, f"the {name} view must return the same JSON as GraphQL"
        # A REST list is the list itself, without GraphQL's data/edges/node envelope.
        assert json.loads(drf().content) == nodes, "the DRF view must return the same tasks"

        queries = {}
        for name, call in calls.items():
            with CaptureQueriesContext(connection) as ctx:
                call()
            queries[name] = len(ctx)

        for _ in range(args.warmup):
            for call in calls.values():
                call()
        # Long-running servers freeze start-up objects out of the collector (core/wsgi.py does).
        gc.collect()
        gc.freeze()
        samples = {name: [] for name in calls}
        names = list(calls)
        for i in range(args.requests):
            rotation = names[i % len(names) :] + names[: i % len(names)]
            for name in rotation:
                t0 = time.perf_counter()
                response = calls[name]()
                samples[name].append(time.perf_counter() - t0)
                assert response.status_code == 200

    result = {
        "benchmark": "graphql_list",
        "database": connection.vendor,
        "tasks": args.tasks,
        "edges": n_edges,
        "page_size": 50,
        "requests_each": args.requests,
        **{name: {**summarize(samples[name]), "sql_queries": queries[name]} for name in calls},
    }
    for name in ("floor", "drf", "lean"):
        result[f"ratio_to_{name}"] = {
            "median": round(result["graphql"]["median_ms"] / result[name]["median_ms"], 2),
            "p95": round(result["graphql"]["p95_ms"] / result[name]["p95_ms"], 2),
        }
    path = write_json(f"graphql_list_{connection.vendor}.json", result)
    print(f"database: {result['database']}, {args.tasks} tasks, {n_edges} edges, page of 50")
    labels = {
        "graphql": "GraphQL",
        "floor": "floor (ORM + prefetch_related)",
        "drf": "DRF (nested ModelSerializer)",
        "lean": "lean floor (values_list)",
    }
    for name, label in labels.items():
        r = result[name]
        print(
            f"{label:31s} median {r['median_ms']:7.2f} ms  p95 {r['p95_ms']:7.2f} ms  "
            f"{r['sql_queries']} SQL queries/request"
        )
    for name in ("floor", "drf", "lean"):
        ratio = result[f"ratio_to_{name}"]
        print(f"GraphQL / {name:5s}  median {ratio['median']:.2f}x  p95 {ratio['p95']:.2f}x")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
