"""What a readiness probe costs: GET /health/ready/ through the full middleware stack.

Database, cache and broker are real (set DATABASE_URL, REDIS_URL and CACHE_URL); the worker
and dispatcher heartbeats are written first, so every check passes and does its full work.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/taskgraph_bench \\
    REDIS_URL=redis://127.0.0.1:6379/8 CACHE_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/health.py [--requests 500]

Prints median and p95 for an anonymous probe (status only) and a staff one (every check's
detail), and liveness for comparison; writes bench/results/health_<db>.json.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import reset_database, setup_django, summarize, write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()

    setup_django("health.sqlite3")
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from core import health
    from users.models import User

    settings.ALLOWED_HOSTS = ["testserver"]
    settings.DEBUG = False
    reset_database()
    staff = User.objects.create_user(email="ops@example.com", password="x" * 20, is_staff=True)
    health.beat(health.WORKER)
    health.beat(health.DISPATCHER)
    anonymous, operator = Client(), Client()
    operator.force_login(staff)
    calls = {
        "ready_anonymous": lambda: anonymous.get("/health/ready/"),
        "ready_staff": lambda: operator.get("/health/ready/", HTTP_ACCEPT="application/json"),
        "live": lambda: anonymous.get("/health/"),
    }
    for name, call in calls.items():
        response = call()
        assert response.status_code == 200, (name, response.content)
    samples = {name: [] for name in calls}
    for _ in range(args.requests):
        for name, call in calls.items():
            t0 = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - t0)
        if len(samples["live"]) % 100 == 0:  # keep the heartbeats fresh on long runs
            health.beat(health.WORKER)
            health.beat(health.DISPATCHER)
    result = {
        "benchmark": "health",
        "database": connection.vendor,
        "cache": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1],
        "broker": "redis" if settings.REDIS_URL else "embedded",
        **{name: summarize(values) for name, values in samples.items()},
    }
    path = write_json(f"health_{connection.vendor}.json", result)
    print(f"database {result['database']}, cache {result['cache']}, broker {result['broker']}")
    for name in calls:
        r = result[name]
        print(f"{name:16s} median {r['median_ms']:6.3f} ms  p95 {r['p95_ms']:6.3f} ms")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
