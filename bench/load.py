"""A load test of the production server: gunicorn (2 workers), DEBUG=0, over real HTTP.

Targets, at each concurrency level, against the same server in the same run:
- floor:    GET /floor/tasks/, the hand-written view of bench/floor_urls.py (session cookie);
- list:     GET /graphql/?query=tasks(first: 50) {...} (the same page, the same session);
- create:   POST /graphql/ taskCreate with an API token (Authorization: Bearer).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/taskgraph_load \\
        .venv/bin/python bench/load.py [--levels 1,4,16] [--seconds 5] [--tasks 1000]

The load generator (threads, one connection per request, as gunicorn's sync workers close
them) runs on the same machine and takes CPU from the server: figures are for the whole box.
Prints requests/s, p50 and p99 per target and level; writes bench/results/load_<db>.json.
"""

import argparse
import http.client
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import RESULTS, ROOT, analyze, reset_database, setup_django, write_json

LIST_QUERY = (
    "query List { tasks(first: 50) { edges { node { id title status scheduledAt "
    "preTasks { id title } } } } }"
)
CREATE = json.dumps(
    {
        "query": "mutation Create($t: String!) { taskCreate(input: {title: $t}) "
        "{ task { id } errors { code } } }",
        "variables": {"t": "load test"},
    }
)


def percentile(sorted_ms: list[float], p: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(p / 100 * len(sorted_ms)))]


def run_level(port: int, request, concurrency: int, seconds: float) -> dict:
    """`concurrency` threads send `request` back to back for `seconds`."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def loop() -> None:
        mine = []
        while time.perf_counter() < deadline:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            t0 = time.perf_counter()
            status = request(connection)
            mine.append(time.perf_counter() - t0)
            connection.close()
            if status != 200:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=loop) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ms = sorted(x * 1000 for x in latencies)
    return {
        "concurrency": concurrency,
        "requests": len(ms),
        "errors": errors[0],
        "rps": round(len(ms) / elapsed, 1),
        "p50_ms": round(percentile(ms, 50), 2),
        "p99_ms": round(percentile(ms, 99), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,4,16")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--port", type=int, default=18500)
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]

    # One key for this process and the server: the session's auth hash is signed with it.
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)
    setup_django("load.sqlite3")
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection

    from bench.graphql_list import seed
    from users.services import api_token_create

    reset_database()
    user, n_edges = seed(args.tasks)
    analyze()
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    _, token = api_token_create(user=user, name="load", scopes=["WRITE"])
    cookie = f"{settings.SESSION_COOKIE_NAME}={session.session_key}"

    metrics_dir = tempfile.mkdtemp(prefix="load-metrics-")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.load_settings",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_BIND": f"127.0.0.1:{args.port}",
        "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }
    log = RESULTS / "load_gunicorn.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "core.wsgi:application"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    list_path = "/graphql/?" + urllib.parse.urlencode({"query": LIST_QUERY})
    json_headers = {"Accept": "application/json", "Cookie": cookie}

    def floor(conn) -> int:
        conn.request("GET", "/floor/tasks/", headers=json_headers)
        response = conn.getresponse()
        response.read()
        return response.status

    def graphql_list(conn) -> int:
        conn.request("GET", list_path, headers=json_headers)
        response = conn.getresponse()
        response.read()
        return response.status

    def create(conn) -> int:
        conn.request(
            "POST",
            "/graphql/",
            body=CREATE,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        response = conn.getresponse()
        body = json.loads(response.read())
        ok = response.status == 200 and body["data"]["taskCreate"]["errors"] == []
        return 200 if ok else response.status or 500

    try:
        deadline = time.time() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=2)
                conn.request("GET", "/health/live/")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit(log.read_text()) from None
                time.sleep(0.2)
        # The same page from both: the floor is a fair reference.
        for path in ("/floor/tasks/", list_path):
            conn = http.client.HTTPConnection("127.0.0.1", args.port)
            conn.request("GET", path, headers=json_headers)
            pages = json.loads(conn.getresponse().read())
            assert len(pages["data"]["tasks"]["edges"]) == 50, pages
        for target in (floor, graphql_list, create):  # warm both workers
            run_level(args.port, target, 2, 1)
        results = {"floor": [], "list": [], "create": []}
        for level in levels:
            for name, target in (("floor", floor), ("list", graphql_list), ("create", create)):
                results[name].append(run_level(args.port, target, level, args.seconds))
    finally:
        server.terminate()
        server.wait(10)

    result = {
        "benchmark": "load",
        "database": connection.vendor,
        "server": "gunicorn, 2 sync workers, DEBUG=0, JSON logs, metrics on",
        "tasks": args.tasks,
        "edges": n_edges,
        "seconds_per_level": args.seconds,
        **results,
    }
    path = write_json(f"load_{connection.vendor}.json", result)
    print(f"{result['server']}; {connection.vendor}; {args.tasks} tasks, {n_edges} edges")
    print(f"{'target':8s} {'conc':>4s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'errors':>6s}")
    for i in range(len(levels)):
        for name in ("floor", "list", "create"):
            r = results[name][i]
            print(
                f"{name:8s} {r['concurrency']:4d} {r['rps']:8.1f} {r['p50_ms']:8.2f} "
                f"{r['p99_ms']:8.2f} {r['errors']:6d}"
            )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
