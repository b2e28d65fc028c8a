"""What logging and metrics cost the list request: with and without, in one run.

The same `tasks(first: 50)` page (bench/graphql_list.py's query and data) through two Django
request handlers in this process, interleaved request by request:

- with: the project's MIDDLEWARE (request log line, request id, HTTP metrics) and the GraphQL
  Observability extension (operation metrics, log context), logging rendered as JSON to
  /dev/null at INFO, as in production;
- without: the same middleware minus those two, a copy of the schema without the extension.

Liveness (/health/, which does nothing) through both handlers gives the middleware's
absolute cost per request, which noise on the list page hides.

    .venv/bin/python bench/observability.py [--requests 500] [--tasks 1000]

Prints the medians and the overhead; writes bench/results/observability_<db>.json.
"""

import argparse
import copy
import gc
import json
import logging
import logging.config
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import analyze, reset_database, setup_django, summarize, write_json

OBSERVABILITY_MIDDLEWARE = ("core.logs.RequestLogMiddleware", "core.metrics.MetricsMiddleware")


def bare_urlpatterns():
    """/graphql/ served by a copy of the schema without the Observability extension."""
    from django.urls import path

    from schema.observability import Observability
    from schema.schema import schema
    from schema.views import GraphQLView

    bare = copy.copy(schema)
    bare.extensions = [ext for ext in schema.extensions if ext is not Observability]
    assert len(bare.extensions) == len(schema.extensions) - 1
    return [path("graphql/", GraphQLView.as_view(schema=bare))]


def handler_client(middleware: list[str], urlconf: str, user):
    from django.test import Client
    from django.test.utils import override_settings

    client = Client()
    client.force_login(user)
    with override_settings(MIDDLEWARE=middleware, ROOT_URLCONF=urlconf):
        client.handler.load_middleware()
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()

    os.environ["LOG_LEVEL"] = "INFO"
    os.environ["LOG_FORMAT"] = "json"
    setup_django("observability.sqlite3")
    from django.conf import settings
    from django.db import connection
    from django.urls import clear_url_caches, path, set_urlconf

    from bench.graphql_list import QUERY, seed
    from core.views import health

    settings.ALLOWED_HOSTS = ["testserver"]
    logging.config.dictConfig(settings.LOGGING)
    [handler] = logging.getLogger().handlers
    handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    reset_database()
    user, _ = seed(args.tasks)
    analyze()

    module = type(sys)("bench_bare_urls")
    module.urlpatterns = [*bare_urlpatterns(), path("health/", health)]
    sys.modules["bench_bare_urls"] = module
    full = list(settings.MIDDLEWARE)
    stripped = [m for m in full if m not in OBSERVABILITY_MIDDLEWARE]
    assert len(stripped) == len(full) - 2
    clients = {
        "with": handler_client(full, "core.urls", user),
        "without": handler_client(stripped, "bench_bare_urls", user),
    }
    urlconfs = {"with": "core.urls", "without": "bench_bare_urls"}
    body = json.dumps({"query": QUERY})

    def call(name: str, liveness: bool = False):
        # Each handler resolves against its own URLconf (set per request, as Django's
        # request.urlconf does).
        set_urlconf(urlconfs[name])
        settings.ROOT_URLCONF = urlconfs[name]
        clear_url_caches()
        if liveness:
            response = clients[name].get("/health/")
        else:
            response = clients[name].post("/graphql/", body, content_type="application/json")
        assert response.status_code == 200, response.content
        return response

    expected = json.loads(call("with").content)
    assert json.loads(call("without").content) == expected
    assert "X-Request-ID" in call("with") and "X-Request-ID" not in call("without")
    for _ in range(args.warmup):
        call("with")
        call("without")
    gc.collect()
    gc.freeze()
    samples = {"with": [], "without": [], "with_liveness": [], "without_liveness": []}
    for i in range(args.requests):
        for name in ("with", "without") if i % 2 else ("without", "with"):
            t0 = time.perf_counter()
            call(name)
            samples[name].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            call(name, liveness=True)
            samples[f"{name}_liveness"].append(time.perf_counter() - t0)

    result = {
        "benchmark": "observability",
        "database": connection.vendor,
        "tasks": args.tasks,
        "requests_each": args.requests,
        "with": summarize(samples["with"]),
        "without": summarize(samples["without"]),
        "with_liveness": summarize(samples["with_liveness"]),
        "without_liveness": summarize(samples["without_liveness"]),
    }
    result["absolute_cost_us"] = round(
        1000 * (result["with_liveness"]["median_ms"] - result["without_liveness"]["median_ms"]), 1
    )
    result["overhead_median_pct"] = round(
        100 * (result["with"]["median_ms"] / result["without"]["median_ms"] - 1), 2
    )
    result["overhead_mean_pct"] = round(
        100 * (sum(samples["with"]) / sum(samples["without"]) - 1), 2
    )
    # Each pair ran back to back, so the median of the pairs' differences cancels most of the
    # drift a shared machine adds (the medians of each side alone do not).
    paired = sorted(w - wo for w, wo in zip(samples["with"], samples["without"], strict=True))
    result["overhead_paired_pct"] = round(
        100 * statistics.median(paired) / statistics.median(samples["without"]), 2
    )
    path = write_json(f"observability_{connection.vendor}.json", result)
    print(f"database: {connection.vendor}, {args.tasks} tasks, page of 50, interleaved")
    for name in ("without", "with", "without_liveness", "with_liveness"):
        r = result[name]
        print(f"{name:16s} median {r['median_ms']:7.3f} ms  p95 {r['p95_ms']:7.3f} ms")
    print(
        f"logging + metrics overhead: paired {result['overhead_paired_pct']:+.2f}% "
        f"(medians {result['overhead_median_pct']:+.2f}%, "
        f"means {result['overhead_mean_pct']:+.2f}%)"
    )
    print(f"middleware cost on the cheapest request (/health/): {result['absolute_cost_us']} us")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
