"""Reminder delivery on real Redis with worker processes (`manage.py rundramatiq`).

    .venv/bin/python bench/reminders.py [--small] [--threads 8] [--send-threads 16]
        [--processes 1] [--transport smtp|postmark|resend|recording] [--latency-ms 20]
        [--scenarios a b c]

(a) 10,000 reminders due at random moments within one minute; (b) 10,000 due within the same
second; (c) 100,000 pending reminders due next week beside 1,000 due within the next minute.
Transports: ``smtp``, the test suite's SMTP server (aiosmtpd) on loopback; ``postmark``, Anymail's
Postmark backend against a Postmark-compatible server on loopback answering after --latency-ms;
``resend``, the same with Resend's API and its idempotency keys (core.email.ResendBackend);
``recording``, an email backend that only writes down the hand-off (no transport at all). Each
provider runs in a process of its own. Lateness = the moment the provider accepted the email
(the recording backend: got it) minus remind_at. The reminders are
written as PENDING rows and queued by one run of the dispatcher, as the periodic job would.
Prints p50/p95/p99/max lateness, throughput and the worker's peak memory; writes
bench/results/reminders_<transport>[_<N>p][_small].json. Needs PostgreSQL (DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/tg_reminders_bench) and redis-server (a private one is started on
a free port in 18300-18339). --small divides every count by ten.

The floor, measured after (b) in the same run: as many emails sent to a fresh provider process
by bare clients (bench/email_floor.py: no database, no Django, no Dramatiq) in as many processes
as the worker has, each with --send-threads threads on a connection of their own, all sending
the bytes or JSON of one real reminder email built once. (b) reports its throughput as a ratio
of the floor's: absolute figures move with the host, the ratio much less. The recording backend
has no floor: there is no provider to reach, only a file to append to.
"""

import argparse
import base64
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    REMINDER_WORKER_ENV,
    RESULTS,
    analyze,
    setup_reminder_bench,
    write_json,
)
from tests.processes import (  # noqa: E402
    SMTP_PORTS,
    RedisServer,
    WorkerProcess,
    free_port,
    wait_until,
)

LEAD_SECONDS = 3  # time to queue the wake-ups before the first reminder is due
TOKEN = "test-server-token"  # the providers' API key


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def worker_peak_rss_mb(master_pid: int) -> float:
    """Peak resident memory (VmHWM) of the worker processes under the dramatiq master."""
    peak = 0
    for child in Path(f"/proc/{master_pid}/task").glob("*/children"):
        for pid in child.read_text().split():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
    return round(peak / 1024, 1)


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User + system CPU time of a process (with ``children``: of the processes it started,
    which for the dramatiq master are the worker processes), from /proc."""
    pids = [pid]
    if children:
        pids = [
            child
            for path in Path(f"/proc/{pid}/task").glob("*/children")
            for child in path.read_text().split()
        ]
    ticks = 0
    for each in pids:
        fields = Path(f"/proc/{each}/stat").read_text().rpartition(")")[2].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class Provider:
    """tests/providers.py in its own process, appending accepted emails to ``record``."""

    def __init__(
        self, *, kind: str, record: Path, latency_ms: float, idempotency_header: str = ""
    ) -> None:
        self.kind = kind
        self.port = free_port(SMTP_PORTS)
        # smtp: a relay honouring keys in this header (as Resend's reads Resend-Idempotency-Key)
        self.idempotency_header = idempotency_header
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "tests.providers", kind, "--port", str(self.port)),
                *("--record", str(record), "--latency-ms", str(latency_ms)),
                *("--idempotency-header", idempotency_header),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "ready"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def anymail_backend(self):
        """Anymail's backend (ours for Resend) as ``worker_env`` configures it."""
        from django.core.mail import get_connection

        if self.kind == "resend":
            return get_connection("core.email.ResendBackend", api_key=TOKEN, api_url=self.url)
        return get_connection(
            "anymail.backends.postmark.EmailBackend", server_token=TOKEN, api_url=self.url
        )

    def worker_env(self) -> dict[str, str]:
        if self.kind == "smtp":
            return {
                "EMAIL_PROVIDER": "smtp",
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": str(self.port),
                "EMAIL_IDEMPOTENCY_HEADER": self.idempotency_header,
            }
        if self.kind == "resend":
            return {
                "EMAIL_PROVIDER": "resend",
                "ANYMAIL_RESEND_API_KEY": TOKEN,
                "ANYMAIL_RESEND_API_URL": self.url,
                "ANYMAIL_WEBHOOK_SECRET": "bench:bench",
                "ANYMAIL_RESEND_SIGNING_SECRET": "whsec_YmVuY2g=",  # required with DEBUG=0
            }
        return {
            "EMAIL_PROVIDER": "postmark",
            "ANYMAIL_POSTMARK_SERVER_TOKEN": TOKEN,
            "ANYMAIL_POSTMARK_API_URL": self.url,
            "ANYMAIL_WEBHOOK_SECRET": "bench:bench",
        }

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class Worker(WorkerProcess):
    """The test suite's worker process, sending through the chosen transport."""

    def __init__(
        self,
        *,
        redis_url: str,
        email_env: dict[str, str],
        threads: int,
        send_threads: int,
        processes: int,
        log: Path,
    ) -> None:
        env = {
            "REDIS_URL": redis_url,
            **REMINDER_WORKER_ENV,
            **email_env,
            "REMINDER_SEND_THREADS": str(send_threads),
        }
        super().__init__(env=env, log=log, threads=threads, processes=processes)
        self.start(redis_url)

    def peak_rss_mb(self) -> float:
        return worker_peak_rss_mb(self.process.pid)


def floor_spec(message, provider: Provider) -> dict:
    """``message`` as the worker's transport puts it on the wire, for bench/email_floor.py:
    the envelope and bytes Django's SMTP backend hands to smtplib, or the URL, headers and JSON
    body Anymail posts (its session's User-Agent beside them)."""
    if provider.kind == "smtp":
        from django.conf import settings
        from django.core.mail.message import sanitize_address

        encoding = message.encoding or settings.DEFAULT_CHARSET
        return {
            "transport": "smtp",
            "host": "127.0.0.1",
            "port": provider.port,
            "from": sanitize_address(message.from_email, encoding),
            "to": [sanitize_address(address, encoding) for address in message.recipients()],
            "message": base64.b64encode(message.message().as_bytes(linesep="\r\n")).decode(),
        }
    backend = provider.anymail_backend()
    payload = backend.build_message_payload(message, backend.send_defaults)
    params = payload.get_request_params(backend.api_url)
    return {
        "transport": provider.kind,
        "url": params["url"],
        "headers": params["headers"],
        "body": params["data"],
        "user_agent": backend.create_session().headers["User-Agent"],
    }


def measure_floor(message, *, emails: int, args: argparse.Namespace, workdir: Path) -> dict:
    """``emails`` copies of ``message`` sent to a fresh provider process by bench/email_floor.py
    in --processes processes of --send-threads threads; throughput from the moment they are
    told to start to the provider's last acceptance, as its record file says; CPU per email of
    the clients and of the provider."""
    record = workdir / "floor.records"
    record.unlink(missing_ok=True)
    provider = Provider(kind=args.transport, record=record, latency_ms=args.latency_ms)
    spec = workdir / "floor.json"
    spec.write_text(json.dumps(floor_spec(message, provider)))
    shares = [
        emails // args.processes + (i < emails % args.processes) for i in range(args.processes)
    ]
    command = [
        sys.executable,
        "bench/email_floor.py",
        str(spec),
        "--threads",
        str(args.send_threads),
    ]
    clients = [
        subprocess.Popen(
            [*command, "--emails", str(share)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for share in shares
    ]
    try:
        for client in clients:
            assert client.stdout.readline().strip() == "ready"
        provider_cpu = cpu_seconds(provider.process.pid)
        started = time.time()
        for client in clients:
            client.stdin.write("go\n")
            client.stdin.flush()
        client_cpu = sum(float(client.communicate(timeout=300)[0]) for client in clients)
        provider_cpu = cpu_seconds(provider.process.pid) - provider_cpu
    finally:
        for client in clients:
            if client.poll() is None:
                client.kill()
                client.wait()
        provider.stop()
    accepted = [line.split() for line in record.read_text().splitlines()]
    last = max(float(at) for _, at, _ in accepted)
    return {
        "emails": emails,
        "accepted": len(accepted),
        "processes": args.processes,
        "connections": len({connection for _, _, connection in accepted}),
        "throughput_per_s": round(len(accepted) / (last - started), 1),
        "client_cpu_ms_per_email": round(client_cpu * 1000 / len(accepted), 3),
        "provider_cpu_ms_per_email": round(provider_cpu * 1000 / len(accepted), 3),
    }


def seed(*, offsets: list[float], far: int) -> list[datetime]:
    """Far rows first (they take a while), then the near ones, due ``offsets`` seconds after
    LEAD_SECONDS from now, so set-up time never counts as lateness."""
    from tasks.models import Reminder, Task
    from users.models import User

    owner = User.objects.create_user(
        email=f"bench{time.time_ns()}@example.com",
        timezone="Europe/Paris",
        email_verified_at=datetime.now(UTC),
    )
    tasks = Task.objects.bulk_create(
        Task(owner=owner, title=f"Task {i}", description="Benchmark reminder.") for i in range(100)
    )
    next_week = datetime.now(UTC) + timedelta(days=7)
    rows = [
        Reminder(
            task=tasks[i % 100],
            remind_at=next_week + timedelta(seconds=i),
            due_at=next_week + timedelta(seconds=i),
        )
        for i in range(far)
    ]
    Reminder.objects.bulk_create(rows, batch_size=5000)
    analyze()
    start = datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS)
    near = [start + timedelta(seconds=offset) for offset in offsets]
    # One reminder per task and moment (a unique constraint): two random offsets of one task
    # falling on the same microsecond move one microsecond apart.
    taken: set[tuple[int, datetime]] = set()
    for i, at in enumerate(near):
        while (i % 100, at) in taken:
            at += timedelta(microseconds=1)
        near[i] = at
        taken.add((i % 100, at))
    Reminder.objects.bulk_create(
        (Reminder(task=tasks[i % 100], remind_at=at, due_at=at) for i, at in enumerate(near)),
        batch_size=5000,
    )
    return near


def run_scenario(
    name: str,
    *,
    offsets: list[float],
    far: int,
    redis_server,
    args: argparse.Namespace,
    workdir: Path,
    with_floor: bool = False,
) -> dict:
    from django.db import connection

    from tasks.models import Reminder, Task
    from tasks.reminders.dispatch import reminder_dispatch

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Reminder._meta.db_table}, {Task._meta.db_table} CASCADE")
    redis_server.restart_empty()
    record = workdir / f"{name}.records"
    record.unlink(missing_ok=True)
    provider = None
    if args.transport == "recording":
        email_env = {
            "EMAIL_BACKEND": "bench.recording_email.EmailBackend",
            "BENCH_RECORD_FILE": str(record),
        }
    else:
        provider = Provider(kind=args.transport, record=record, latency_ms=args.latency_ms)
        email_env = provider.worker_env()
    worker = Worker(
        redis_url=redis_server.url,
        email_env=email_env,
        threads=args.threads,
        send_threads=args.send_threads,
        processes=args.processes,
        log=workdir / "worker.log",
    )
    try:
        near = seed(offsets=offsets, far=far)
        worker_cpu = cpu_seconds(worker.process.pid, children=True)
        provider_cpu = cpu_seconds(provider.process.pid) if provider else 0.0
        started = time.time()
        reminder_dispatch()  # what the periodic job does within a minute of their creation
        dispatch_s = time.time() - started
        last_due = max(near).timestamp()
        done = wait_until(
            lambda: Reminder.objects.filter(state="SENT").count() >= len(near),
            max(0, last_due - time.time()) + 120,
            0.5,
        )
        peak_mb = worker.peak_rss_mb()
        worker_cpu = cpu_seconds(worker.process.pid, children=True) - worker_cpu
        provider_cpu = (cpu_seconds(provider.process.pid) if provider else 0.0) - provider_cpu
    finally:
        worker.stop()
        if provider is not None:
            provider.stop()
    remind_at = dict(Reminder.objects.filter(state="SENT").values_list("pk", "remind_at"))
    sent_at = dict(Reminder.objects.filter(state="SENT").values_list("pk", "sent_at"))
    handed = {}
    connections = set()
    for line in record.read_text().splitlines():
        pk, at, *connection = line.split()
        handed.setdefault(int(pk), []).append(float(at))
        connections.update(connection)
    lateness = sorted(handed[pk][0] - remind_at[pk].timestamp() for pk in remind_at if pk in handed)
    # The duplicate window, seen from outside: from the provider's acceptance to the moment
    # the worker stamped the email sent (its UPDATE follows at once).
    window = sorted(sent_at[pk].timestamp() - handed[pk][0] for pk in sent_at if pk in handed)
    first_due = min(near).timestamp()
    last_hand_off = max(at for ats in handed.values() for at in ats)
    result = {
        "reminders_due": len(near),
        "reminders_far": far,
        "sent": len(lateness),
        "all_sent": done and len(lateness) == len(near),
        "duplicates": sum(len(ats) - 1 for ats in handed.values()),
        "dispatch_s": round(dispatch_s, 3),
        "lateness_ms": {
            "p50": round(percentile(lateness, 0.50) * 1000, 1),
            "p95": round(percentile(lateness, 0.95) * 1000, 1),
            "p99": round(percentile(lateness, 0.99) * 1000, 1),
            "max": round(lateness[-1] * 1000, 1),
            "min": round(lateness[0] * 1000, 1),
        },
        "accepted_to_marked_ms": {
            "p50": round(percentile(window, 0.50) * 1000, 2),
            "p99": round(percentile(window, 0.99) * 1000, 2),
            "max": round(window[-1] * 1000, 2),
        },
        "throughput_per_s": round(len(lateness) / max(last_hand_off - first_due, 1e-3), 1),
        # CPU the worker processes spent per email sent (the provider's beside it): 1,000
        # divided by it is what one worker process could send a second on a core of its own.
        "worker_cpu_ms_per_email": round(worker_cpu * 1000 / max(len(lateness), 1), 3),
        "provider_cpu_ms_per_email": round(provider_cpu * 1000 / max(len(lateness), 1), 3),
        "worker_peak_rss_mb": peak_mb,
        "provider_connections": len(connections),
    }
    if with_floor:
        from jobs.emails import reminder_email
        from tasks.reminders.selectors import reminders_for_delivery

        [reminder] = reminders_for_delivery(pks=[min(remind_at)])
        floor = measure_floor(
            reminder_email(reminder), emails=len(near), args=args, workdir=workdir
        )
        result["floor"] = floor
        result["vs_floor"] = round(result["throughput_per_s"] / floor["throughput_per_s"], 3)
    print(
        f"({name}) {len(near):>6} due, {far:>6} far: sent {result['sent']}, dupes "
        f"{result['duplicates']}; lateness p50 {result['lateness_ms']['p50']} ms, p95 "
        f"{result['lateness_ms']['p95']} ms, p99 {result['lateness_ms']['p99']} ms, max "
        f"{result['lateness_ms']['max']} ms; {result['throughput_per_s']}/s; worker CPU "
        f"{result['worker_cpu_ms_per_email']} ms/email (provider "
        f"{result['provider_cpu_ms_per_email']}); worker peak "
        f"{peak_mb} MB; dispatch {result['dispatch_s']} s; {len(connections)} connections; "
        f"accepted-to-marked p50 {result['accepted_to_marked_ms']['p50']} ms, p99 "
        f"{result['accepted_to_marked_ms']['p99']} ms",
        flush=True,
    )
    if with_floor:
        print(
            f"({name}) floor: {floor['accepted']} of {floor['emails']} accepted from bare clients "
            f"on {floor['connections']} connections in {floor['processes']} processes: "
            f"{floor['throughput_per_s']}/s; worker/floor {result['vs_floor']}; client CPU "
            f"{floor['client_cpu_ms_per_email']} ms/email (provider "
            f"{floor['provider_cpu_ms_per_email']})",
            flush=True,
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a tenth of every count")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--send-threads", type=int, default=16, help="REMINDER_SEND_THREADS, and the floor's"
    )
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument(
        "--transport", choices=["smtp", "postmark", "resend", "recording"], default="smtp"
    )
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--scenarios", nargs="*", default=["a", "b", "c"])
    args = parser.parse_args()
    scale = 10 if args.small else 1
    redis_server = RedisServer()
    # The bench process sends the dispatcher's wake-ups to the same private Redis.
    setup_reminder_bench(name="reminders", redis_server=redis_server)

    rng = random.Random(3)
    redis_server.start()
    results = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-reminders-") as tmp:
            workdir = Path(tmp)
            for name in args.scenarios:
                if name == "a":
                    near = [rng.uniform(0, 60) for _ in range(10_000 // scale)]
                    far = 0
                elif name == "b":
                    near = [rng.uniform(0, 1) for _ in range(10_000 // scale)]
                    far = 0
                else:
                    near = [rng.uniform(0, 60) for _ in range(1_000 // scale)]
                    far = 100_000 // scale
                results[name] = run_scenario(
                    name,
                    offsets=near,
                    far=far,
                    redis_server=redis_server,
                    args=args,
                    workdir=workdir,
                    with_floor=name == "b" and args.transport != "recording",
                )
    finally:
        redis_server.stop()
    payload = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "transport": args.transport,
        "provider_latency_ms": None if args.transport in ("smtp", "recording") else args.latency_ms,
        "worker": {
            "processes": args.processes,
            "threads": args.threads,
            "send_threads": args.send_threads,
            "dramatiq_worker_timeout_ms": 100,
        },
        "small": args.small,
        "scenarios": results,
    }
    processes = f"_{args.processes}p" if args.processes > 1 else ""
    name = f"reminders_{args.transport}{processes}{'_small' if args.small else ''}.json"
    previous = RESULTS / name
    if previous.exists():  # a run of some scenarios keeps the others' figures
        kept = json.loads(previous.read_text()).get("scenarios", {})
        payload["scenarios"] = {**kept, **results}
    path = write_json(name, payload)
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
