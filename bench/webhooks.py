"""Webhooks on real processes: PostgreSQL, a private redis-server, one `manage.py rundramatiq`
worker process, and a receiver on loopback that verifies every signature (standardwebhooks).

    .venv/bin/python bench/webhooks.py [--small] [--threads 8] [--scenarios latency burst inbound]

latency: N task.created events (1,000; --small 100), one transaction each, 20 ms apart, no
         other load: commit -> receiver, p50/p95/p99/max.
burst:   10,000 events (--small 1,000) recorded in one transaction (one bulk change), the
         receiver down for the first BURST_DOWN_SECONDS; then every delivery must arrive:
         lost = events never answered 2xx, duplicated = 2xx deliveries beyond one per
         webhook-id. WEBHOOK_DISABLE_AFTER_* keep their defaults (12 h of failures needed).
inbound: the same taskCreate sent directly to /graphql/ (session) and through a signed
         inbound hook, in-process (Django's test client), N = 300 (--small 100): the median
         request time of each and their ratio.
Writes bench/results/webhooks.json (or webhooks_small.json). Needs PostgreSQL (DATABASE_URL,
default postgres://postgres@127.0.0.1:5432/tg_webhooks_bench) and redis-server.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import RESULTS, reset_database, setup_django, write_json  # noqa: E402
from tests.processes import RedisServer, WorkerProcess, wait_until  # noqa: E402
from tests.webhooks.receiver import Receiver  # noqa: E402

BURST_DOWN_SECONDS = 5


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 2)


def endpoint_for(receiver: Receiver, events: list[str]):
    from users.models import User
    from webhooks.services import webhook_create

    owner = User.objects.create_user(email=f"bench{time.time_ns()}@example.com")
    created = webhook_create(user=owner, url=receiver.url, events=events)
    receiver.secret = created.secret
    return owner


def latency(receiver: Receiver, n: int) -> dict:
    from tasks.services import task_create

    receiver.reset()
    owner = endpoint_for(receiver, ["task.created"])
    committed = {}
    for i in range(n):
        task = task_create(owner=owner, title=f"Latency {i}")
        committed[task.pk] = time.time()
        time.sleep(0.02)
    if not wait_until(lambda: len(receiver.received) >= n, 60):
        raise SystemExit(f"latency: only {len(receiver.received)} of {n} arrived")
    lateness = [
        (r.at - committed[r.data["task"]["id"]]) * 1000 for r in receiver.received if r.status < 300
    ]
    verified = sum(r.verified for r in receiver.received)
    return {
        "events": n,
        "verified": verified,
        "p50_ms": pct(lateness, 0.50),
        "p95_ms": pct(lateness, 0.95),
        "p99_ms": pct(lateness, 0.99),
        "max_ms": round(max(lateness), 2),
        "within_1s": sum(x < 1000 for x in lateness),
    }


def burst(receiver: Receiver, n: int) -> dict:
    from django.db import transaction

    from tasks.events import task_data
    from tasks.models import Task
    from webhooks.events import events_record
    from webhooks.models import DeliveryState, WebhookDelivery, WebhookEvent

    receiver.reset()
    owner = endpoint_for(receiver, ["task.updated"])
    tasks = Task.objects.bulk_create(Task(owner=owner, title=f"Burst {i}") for i in range(n))
    receiver.stop()
    started = time.time()
    with transaction.atomic():
        events_record([(owner.pk, "task.updated", task_data(task)) for task in tasks])
    committed = time.time()
    time.sleep(max(0.0, BURST_DOWN_SECONDS - (time.time() - started)))
    receiver.start()
    back = time.time()

    def done() -> bool:
        return (
            WebhookDelivery.objects.filter(endpoint__owner=owner)
            .exclude(state=DeliveryState.SUCCEEDED)
            .count()
            == 0
        )

    finished = wait_until(done, 600, 0.5)
    ended = time.time()
    expected = {e.webhook_id for e in WebhookEvent.objects.filter(owner=owner)}
    ok = Counter(r.webhook_id for r in receiver.received if r.status < 300)
    attempts = sum(
        WebhookDelivery.objects.filter(endpoint__owner=owner).values_list("attempts", flat=True)
    )
    return {
        "events": n,
        "all_succeeded": finished,
        "record_s": round(committed - started, 2),
        "receiver_down_s": round(back - started, 2),
        "drained_after_back_s": round(ended - back, 2),
        "lost": len(expected - set(ok)),
        "duplicated": sum(count - 1 for count in ok.values()),
        "unverified": sum(not r.verified for r in receiver.received),
        "attempts": attempts,
        "throughput_per_s_after_back": round(n / max(ended - back, 1e-9), 1),
    }


def inbound(n: int) -> dict:
    from django.test import Client
    from django.test.utils import setup_test_environment
    from standardwebhooks import Webhook

    from schema.hooks import document_check
    from schema.schema import schema
    from users.models import User
    from webhooks.hooks import inbound_hook_create

    setup_test_environment()  # the test client's host, "testserver", is allowed
    user = User.objects.create_user(email=f"inbound{time.time_ns()}@example.com")
    document = (
        "mutation($title: String!) { taskCreate(input: {title: $title})"
        " { task { id } errors { code } } }"
    )
    hook = inbound_hook_create(
        user=user,
        name="bench",
        document=document,
        variables=None,
        check=lambda d: document_check(schema, d),
    )
    session = Client()
    session.force_login(user)
    signer = Webhook(hook.secret)
    direct, via_hook = [], []
    for i in range(n):
        body = json.dumps({"query": document, "variables": {"title": f"Direct {i}"}})
        t0 = time.perf_counter()
        response = session.post("/graphql/", data=body, content_type="application/json")
        direct.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.content[:300]

        payload = json.dumps({"title": f"Hook {i}"})
        msg_id = f"msg_{uuid.uuid4().hex}"
        now = datetime.now(tz=UTC)
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signer.sign(msg_id=msg_id, timestamp=now, data=payload),
        }
        t0 = time.perf_counter()
        response = Client().post(
            f"/hooks/{hook.public_id}/",
            data=payload,
            content_type="application/json",
            headers=headers,
        )
        via_hook.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.content[:300]
    d, h = statistics.median(direct) * 1000, statistics.median(via_hook) * 1000
    return {
        "requests": n,
        "direct_median_ms": round(d, 2),
        "hook_median_ms": round(h, 2),
        "ratio": round(h / d, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--scenarios", nargs="*", default=["latency", "burst", "inbound"])
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tg_webhooks_bench")
    redis_server = RedisServer()
    os.environ["REDIS_URL"] = redis_server.url
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["WEBHOOK_ALLOWED_ADDRESSES"] = "127.0.0.1"
    setup_django("webhooks.sqlite3")
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("bench/webhooks.py needs PostgreSQL: the worker is another process")
    reset_database()
    import jobs.actors  # noqa: F401 - declares the actors on the Redis broker

    receiver = Receiver()
    receiver.start()
    redis_server.start()
    results = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
            worker = WorkerProcess(
                env={
                    "REDIS_URL": redis_server.url,
                    "WEBHOOK_ALLOWED_ADDRESSES": "127.0.0.1",
                    "WEBHOOK_RETRY_BACKOFF_MS": "500",
                    "WEBHOOK_RETRY_MAX_BACKOFF_SECONDS": "4",
                    "LOG_LEVEL": "WARNING",
                    "dramatiq_worker_timeout": "100",
                },
                log=Path(tmp) / "worker.log",
                threads=args.threads,
            )
            worker.start(redis_server.url)
            try:
                scale = 10 if args.small else 1
                for name in args.scenarios:
                    if name == "latency":
                        results[name] = latency(receiver, 1000 // scale)
                    elif name == "burst":
                        results[name] = burst(receiver, 10_000 // scale)
                    elif name == "inbound":
                        results[name] = inbound(300 if not args.small else 100)
                    print(name, json.dumps(results[name]), flush=True)
            finally:
                worker.stop()
    finally:
        redis_server.stop()
        receiver.stop()
    payload = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "worker": {"processes": 1, "threads": args.threads, "retry_backoff_ms": 500},
        "small": args.small,
        "scenarios": results,
    }
    name = "webhooks_small.json" if args.small else "webhooks.json"
    previous = RESULTS / name
    if previous.exists():
        kept = json.loads(previous.read_text()).get("scenarios", {})
        payload["scenarios"] = {**kept, **results}
    path = write_json(name, payload)
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
