"""A hostile client against a real gunicorn on PostgreSQL: the slowest request, the worst
worker memory growth.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/taskgraph_hostile python bench/hostile.py

Seeds one ordinary user at the per-owner maxima (USER_MAX_TASKS tasks, TASK_MAX_PRE_TASKS
pre-tasks on one task, TASK_MAX_REMINDERS reminders on ten tasks), runs ANALYZE as a deployed
database would have it, starts `gunicorn core.wsgi` (DEBUG=0, 2 sync workers) on a free port,
then sends each attack of issue 9 and its variants several times, anonymous or with the
user's API token. Prints, per attack, the slowest answer, the HTTP status and the error code,
and at the end the slowest request and the largest RSS growth of any worker over its size
after a warm-up. Writes bench/results/hostile.json.

The per-minute points budget is raised for the run (GRAPHQL_COST_PER_MINUTE): this measures
what one request can do within the per-request limits, not the throttle.
"""

import argparse
import gc
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, analyze, reset_database, setup_django, write_json
from tests.security.hostile_documents import (
    doubling_fragments,
    huge_comment,
    many_comments,
    nested_fields,
    repeated_field,
)

SECRET_KEY = "hostile-bench-" + "k" * 60


def seed(*, chain_length: int, dependents: int) -> dict:
    """One user at the maxima: a chain, a hub with many dependents, a task with the most
    pre-tasks, ten tasks with the most reminders, the rest plain tasks."""
    from django.conf import settings

    from tasks.models import Reminder, Task, TaskDependency
    from users import services
    from users.models import User

    user = User.objects.create_user(email="hostile@example.com", password="x" * 20)
    total = settings.USER_MAX_TASKS
    start = datetime(2030, 1, 1, tzinfo=UTC)
    tasks = Task.objects.bulk_create(
        [
            Task(owner=user, title=f"T{n}", scheduled_at=start + timedelta(minutes=n))
            for n in range(total)
        ],
        batch_size=2000,
    )
    chain = tasks[:chain_length]
    hub = tasks[chain_length]
    waiting = tasks[chain_length + 1 : chain_length + 1 + dependents]
    wide = tasks[-1]
    pre = tasks[-1 - settings.TASK_MAX_PRE_TASKS : -1]
    edges = [TaskDependency(task=b, pre_task=a) for a, b in pairwise(chain)]
    edges += [TaskDependency(task=w, pre_task=hub) for w in waiting]
    edges += [TaskDependency(task=wide, pre_task=p) for p in pre]
    TaskDependency.objects.bulk_create(edges, batch_size=5000)
    reminded = tasks[-100:-90]
    Reminder.objects.bulk_create(
        [
            Reminder(
                task=t, remind_at=start + timedelta(hours=h), due_at=start + timedelta(hours=h)
            )
            for t in reminded
            for h in range(settings.TASK_MAX_REMINDERS)
        ]
    )
    _, secret = services.api_token_create(user=user, name="bench", scopes=["WRITE"])
    return {
        "secret": secret,
        "chain_tail": chain[-1].pk,
        "chain_head": chain[0].pk,
        "hub": hub.pk,
        "wide": wide.pk,
        "reminded": reminded[0].pk,
        "sizes": {
            "tasks": total,
            "chain": chain_length,
            "hub_dependents": dependents,
            "pre_tasks_of_one_task": len(pre),
            "tasks_with_max_reminders": len(reminded),
            "reminders_per_task": settings.TASK_MAX_REMINDERS,
        },
    }


def gid(pk: int) -> str:
    import base64

    return base64.b64encode(f"Task:{pk}".encode()).decode()


def attacks(data: dict) -> list[tuple[str, str, dict, str]]:
    """(name, document, variables, caller) with caller "anon" or "token"."""
    tail, head, hub, wide = (gid(data[k]) for k in ("chain_tail", "chain_head", "hub", "wide"))
    reminded = gid(data["reminded"])
    aliases = lambda n, body: " ".join(f"a{i}: {body}" for i in range(n))  # noqa: E731
    return [
        ("doubling fragments x17 (GET)", doubling_fragments(17), {}, "anon-get"),
        ("doubling fragments x30 (GET)", doubling_fragments(30), {}, "anon-get"),
        ("nested 30 levels (GET)", nested_fields(30), {}, "anon-get"),
        ("nested 300 levels (GET)", nested_fields(300), {}, "anon-get"),
        ("one field x498", repeated_field(498), {}, "token"),
        ("one field x1000 (tokens)", repeated_field(1000), {}, "token"),
        ("2.4 MB comment", huge_comment(2_400_000), {}, "token"),
        ("1,001 comments", many_comments(1001), {}, "token"),
        (
            "tasks(first:100) x ancestors (refused)",
            "{ tasks(first: 100) { edges { node { "
            "ancestors { items { depth task { id title } } } } } } }",
            {},
            "token",
        ),
        (
            "tasks(first:35) x ancestors, chain end",
            "{ tasks(first: 35, order: [{field: CREATED_AT, direction: DESC}], "
            'filter: {titleContains: "T"}) { edges { node { id '
            "ancestors { truncated items { depth task { id title } } } } } } }",
            {},
            "token",
        ),
        (
            "ancestors x ancestors (refused)",
            "query($id: ID!) { task(id: $id) { "
            "ancestors { items { task { ancestors { items { depth } } } } } } }",
            {"id": tail},
            "token",
        ),
        (
            "ancestors(first:100) x ancestors(first:50)",
            "query($id: ID!) { task(id: $id) { ancestors(first: 100) { items { task { "
            "ancestors(first: 50) { truncated items { depth } } } } } } }",
            {"id": tail},
            "token",
        ),
        (
            "10 aliases of preTasks on 100 tasks (refused)",
            "{ tasks(first: 100) { edges { node { "
            + aliases(10, "preTasks { id title }")
            + " } } } }",
            {},
            "token",
        ),
        (
            "10 aliases of preTasks on the widest task",
            "query($id: ID!) { task(id: $id) { " + aliases(10, "preTasks { id title }") + " } }",
            {"id": wide},
            "token",
        ),
        (
            "30 aliases of task { reminders }",
            "query($id: ID!) { "
            + aliases(30, "task(id: $id) { reminders { id remindAt } }")
            + " }",
            {"id": reminded},
            "token",
        ),
        (
            "dependents of the hub",
            "query($id: ID!) { task(id: $id) { dependents { id title } } }",
            {"id": hub},
            "token",
        ),
        (
            "descendants of the chain head",
            "query($id: ID!) { task(id: $id) { "
            "descendants { truncated items { depth task { id } } } } }",
            {"id": head},
            "token",
        ),
        (
            "transitive blockers of the chain tail",
            "query($id: ID!) { task(id: $id) { blockers(transitive: true) { id title } } }",
            {"id": tail},
            "token",
        ),
        ("taskOrder of every task", "{ taskOrder { id title } }", {}, "token"),
        (
            "taskOrder of the chain tail",
            "query($id: ID!) { taskOrder(rootId: $id) { id title } }",
            {"id": tail},
            "token",
        ),
        (
            "tasks(first:100) with preTasks and dependents",
            "{ tasks(first: 100) { totalCount edges { node { id title status "
            "preTasks { id title } dependents { id title } } } } }",
            {},
            "token",
        ),
        (
            "batch of 10 x taskOrder",
            json.dumps([{"query": "{ taskOrder { id title } }"}] * 10),
            {},
            "token-batch",
        ),
    ]


REFUSED_DOCUMENTS = {
    "doubling fragments x17": doubling_fragments(17),
    "doubling fragments x30": doubling_fragments(30),
    "nested 30 levels": nested_fields(30),
    "nested 300 levels": nested_fields(300),
    "one field x990 (selections)": repeated_field(990),
    "one field x1000 (tokens)": repeated_field(1000),
    "2.4 MB comment": huge_comment(2_400_000),
    "1,001 comments": many_comments(1001),
}


def refusal_times(secret: str, repeat: int = 20) -> dict:
    """Each over-limit document through Django's whole stack in this process (no network):
    median and worst of `repeat`, each made unique so that no cache answers."""
    import statistics

    from django.test import Client

    client = Client(headers={"Authorization": f"Bearer {secret}"})
    # As a long-running server does after start-up (core/wsgi.py): the seeding's objects
    # would otherwise make the first full collections of the run look like refusal costs.
    gc.collect()
    gc.freeze()
    figures = {}
    for name, document in REFUSED_DOCUMENTS.items():
        samples = []
        client.post("/graphql/", json.dumps({"query": document}), content_type="application/json")
        for n in range(repeat):
            unique = f"{document}\n# {n}" if len(document) < 10_000 else document + str(n)
            body = json.dumps({"query": unique})
            started = time.perf_counter()
            response = client.post("/graphql/", body, content_type="application/json")
            samples.append((time.perf_counter() - started) * 1000)
            code = response.json()["errors"][0]["extensions"]["code"]
        figures[name] = {
            "median_ms": round(statistics.median(samples), 2),
            "max_ms": round(max(samples), 2),
            "code": code,
        }
        print(
            f"refused in-process: {name:30} median {figures[name]['median_ms']:6.2f} ms  "
            f"max {figures[name]['max_ms']:6.2f} ms  {code}"
        )
    return figures


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def send(base: str, document: str, variables: dict, caller: str, secret: str):
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if caller.startswith("token"):
        headers["Authorization"] = f"Bearer {secret}"
    if caller == "anon-get":
        url = f"{base}/graphql/?" + urllib.parse.urlencode({"query": document})
        request = urllib.request.Request(url, headers=headers)
    else:
        body = (
            document
            if caller == "token-batch"
            else json.dumps({"query": document, "variables": variables})
        )
        request = urllib.request.Request(f"{base}/graphql/", data=body.encode(), headers=headers)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read()
    elapsed = time.perf_counter() - started
    try:
        parsed = json.loads(payload)
    except ValueError:
        parsed = None
    answers = parsed if isinstance(parsed, list) else [parsed or {}]
    codes = sorted(
        {e.get("extensions", {}).get("code", "?") for a in answers for e in a.get("errors", [])}
    )
    cost = (answers[0].get("extensions") or {}).get("cost", {}).get("requested")
    return elapsed, status, codes, cost, len(payload)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chain", type=int, default=1000)
    parser.add_argument("--dependents", type=int, default=2000)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (it is wiped).")
    os.environ["GRAPHQL_COST_PER_MINUTE"] = str(10**9)
    # Production settings, in this process (the in-process refusals) and in gunicorn's.
    os.environ.update(
        DEBUG="0",
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1,testserver",
        SECURE_SSL_REDIRECT="0",
        LOG_LEVEL="ERROR",
    )
    setup_django("hostile.sqlite3")
    from django.conf import settings

    reset_database()
    data = seed(chain_length=args.chain, dependents=args.dependents)
    analyze()
    refusals = refusal_times(data["secret"])
    from django.db import connections

    connections.close_all()

    port = free_port()
    env = dict(os.environ)
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "core.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--timeout",
            "30",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/health/", timeout=5).read()
                break
            except OSError:
                time.sleep(0.1)
        plan = attacks(data)
        # Warm-up: every worker imports, connects and fills its caches before RSS is taken.
        for _ in range(6):
            for name, document, variables, caller in plan:
                if "refused" in name:
                    send(base, document, variables, caller, data["secret"])
        pids = workers(server.pid)
        baseline = {pid: rss_kb(pid) for pid in pids}
        peak = dict(baseline)
        rows = []
        for name, document, variables, caller in plan:
            worst = 0.0
            for _ in range(args.repeat):
                elapsed, status, codes, cost, size = send(
                    base, document, variables, caller, data["secret"]
                )
                worst = max(worst, elapsed)
                for pid in workers(server.pid):
                    peak[pid] = max(peak.get(pid, 0), rss_kb(pid))
            rows.append(
                {
                    "attack": name,
                    "slowest_ms": round(worst * 1000, 1),
                    "status": status,
                    "codes": codes,
                    "cost": cost,
                    "response_bytes": size,
                }
            )
            outcome = ",".join(codes) or "ok"
            print(f"{name:48} {worst * 1000:8.1f} ms  HTTP {status}  {outcome:22} cost {cost}")
        growth = {pid: (peak[pid] - baseline.get(pid, peak[pid])) / 1024 for pid in peak}
        slowest = max(rows, key=lambda row: row["slowest_ms"])
        worst_growth = max(growth.values())
        print(f"\nslowest request: {slowest['attack']}: {slowest['slowest_ms']} ms")
        print(f"worst worker RSS growth: {worst_growth:.1f} MB (workers: {len(baseline)})")
        path = write_json(
            "hostile.json",
            {
                "database": settings.DATABASES["default"]["ENGINE"],
                "sizes": data["sizes"],
                "repeat": args.repeat,
                "refused_in_process": refusals,
                "attacks": rows,
                "slowest": slowest,
                "worst_worker_rss_growth_mb": round(worst_growth, 1),
                "load_average": os.getloadavg(),
                "worker_rss_baseline_mb": {str(k): round(v / 1024, 1) for k, v in baseline.items()},
            },
        )
        print(f"wrote {path}")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
