"""`tasks` pages with keyset cursors (the API) against the same field with offset cursors.

Both schemas run in this process through Django's full request handling, on the same rows,
interleaved request by request. Two pages of 50 tasks with their pre-tasks and totalCount:
the first, and the eleventh (after the 500th task, where an offset must skip 500 rows).

    .venv/bin/python bench/keyset_paging.py [--requests 300] [--tasks 1000]

Prints median and p95 latency and median CPU time of each, and the ratios keyset/offset; writes
bench/results/keyset_paging_<database>.json. Set DATABASE_URL to measure on PostgreSQL.
"""

import argparse
import gc
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import analyze, reset_database, setup_django, summarize, write_json
from bench.graphql_list import seed

PAGE = """
query Page($after: String) {
  tasks(first: 50, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id title status scheduledAt preTasks { id title } } }
  }
}
"""


def offset_urls():
    """The API's URLs plus /graphql-offset/: the same `tasks` field on offset cursors."""
    import strawberry
    import strawberry_django
    from django.urls import path
    from strawberry import Info
    from strawberry_django.relay import DjangoListConnection

    from core.urls import urlpatterns
    from schema import fastpath
    from schema.schema import schema
    from schema.task_types import TaskType
    from schema.tasks import TaskQuery
    from schema.views import GraphQLView

    @strawberry.type
    class Query:
        @strawberry_django.connection(DjangoListConnection[TaskType])
        def tasks(self, info: Info) -> list[TaskType]:
            return TaskQuery.tasks(None, info)

    offset_schema = strawberry.Schema(
        query=Query,
        execution_context_class=fastpath.executor_class(),
        config=schema.config,
        extensions=schema.extensions,
    )
    fastpath.install(offset_schema)
    return [
        *urlpatterns,
        path("graphql-offset/", GraphQLView.as_view(schema=offset_schema)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args()

    setup_django("keyset_paging.sqlite3")
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings

    settings.ALLOWED_HOSTS = ["testserver"]
    reset_database()
    user, _ = seed(args.tasks)
    analyze()

    module = type(sys)("bench_offset_urls")
    module.urlpatterns = offset_urls()
    sys.modules["bench_offset_urls"] = module
    with override_settings(ROOT_URLCONF="bench_offset_urls"):
        client = Client()
        client.force_login(user)

        def page(url: str, after: str | None) -> dict:
            body = json.dumps({"query": PAGE, "variables": {"after": after}})
            response = client.post(url, body, content_type="application/json")
            assert response.status_code == 200, response.content
            data = json.loads(response.content)
            assert "errors" not in data, data
            return data["data"]["tasks"]

        def cursor_after(url: str, rows: int) -> str:
            after = None
            for _ in range(rows // 50):
                after = page(url, after)["pageInfo"]["endCursor"]
            return after

        urls = {"keyset": "/graphql/", "offset": "/graphql-offset/"}
        deep = {name: cursor_after(url, 500) for name, url in urls.items()}
        for where, after in (("first", None), ("eleventh", deep)):
            pages = {name: page(url, after and after[name])["edges"] for name, url in urls.items()}
            assert pages["keyset"] == pages["offset"], f"both read the same {where} page"

        calls = {
            f"{name}_{where}": (url, None if where == "first" else deep[name])
            for name, url in urls.items()
            for where in ("first", "eleventh")
        }
        for _ in range(args.warmup):
            for url, after in calls.values():
                page(url, after)
        gc.collect()
        gc.freeze()
        samples = {name: [] for name in calls}
        cpu = {name: [] for name in calls}
        names = list(calls)
        for i in range(args.requests):
            shift = i % len(names)
            for name in names[shift:] + names[:shift]:
                url, after = calls[name]
                t0, c0 = time.perf_counter(), time.process_time()
                page(url, after)
                samples[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)

    result = {
        "benchmark": "keyset_paging",
        "database": connection.vendor,
        "tasks": args.tasks,
        "page_size": 50,
        "requests_each": args.requests,
        **{name: summarize(values) for name, values in samples.items()},
        # This process's CPU time per request: steadier than latency on a shared machine.
        "cpu": {name: summarize(values) for name, values in cpu.items()},
    }
    for where in ("first", "eleventh"):
        keyset, offset = result[f"keyset_{where}"], result[f"offset_{where}"]
        result[f"ratio_{where}"] = {
            "median": round(keyset["median_ms"] / offset["median_ms"], 3),
            "p95": round(keyset["p95_ms"] / offset["p95_ms"], 3),
            "cpu_median": round(
                result["cpu"][f"keyset_{where}"]["median_ms"]
                / result["cpu"][f"offset_{where}"]["median_ms"],
                3,
            ),
        }
    path = write_json(f"keyset_paging_{connection.vendor}.json", result)
    print(f"database: {result['database']}, {args.tasks} tasks, pages of 50 with totalCount")
    for name in names:
        print(
            f"{name:16} median {result[name]['median_ms']:7.2f} ms  "
            f"p95 {result[name]['p95_ms']:7.2f} ms  "
            f"cpu median {result['cpu'][name]['median_ms']:6.2f} ms"
        )
    for where in ("first", "eleventh"):
        ratio = result[f"ratio_{where}"]
        print(
            f"keyset / offset, {where} page: median {ratio['median']}x  p95 {ratio['p95']}x  "
            f"cpu median {ratio['cpu_median']}x"
        )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
