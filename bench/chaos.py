"""Chaos at benchmark size: what the test suite cannot afford to wait for.

    .venv/bin/python bench/chaos.py [--kills 20] [--emails 1000] [--scenarios kills outage]

kills: ``--kills`` rounds of ``--emails`` reminders due within the same second, the worker
process SIGKILLed at a random moment of the burst (0-50 ms after 10-90% were received) and restarted
at once, as a supervisor would. Counts duplicates (emails the SMTP server accepted twice) and
the recovery (last arrival minus the kill). REMINDER_STALE_SENDING_SECONDS is 10 here (30 by
default) to keep rounds short; it moves the recovery time, not the duplicate window.
``--idempotency-header Resend-Idempotency-Key`` (smtp): the worker sends each reminder's key in
that header and the SMTP server honours it, as Resend's SMTP relay does.

outage: 1,000 reminders due at random within a minute; Redis (no persistence) stopped for
60 s across a minute boundary, covering all of them; nothing restarted by hand. Reports how
late the latest arrived and how long after Redis came back the last one arrived.

The production topology on one machine: a `rundramatiq` worker process (8 threads) and
`runscheduler` under a supervisor that restarts what exits, a private redis-server, PostgreSQL
(DATABASE_URL, default postgres://postgres@127.0.0.1:5432/tg_chaos_bench), the test suite's
SMTP server on loopback. Writes bench/results/chaos.json.
"""

import argparse
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    REMINDER_WORKER_ENV,
    RESULTS,
    setup_reminder_bench,
    write_json,
)
from bench.reminders import Provider  # noqa: E402
from tests.processes import (  # noqa: E402
    ManagedProcess,
    RedisServer,
    Supervisor,
    wait_until,
)

THREADS = 8


def seed(moments: list[datetime]) -> dict[int, float]:
    from tasks.models import Reminder, Task
    from tasks.reminders.dispatch import reminder_dispatch
    from users.models import User

    owner = User.objects.create_user(
        email=f"chaos{time.time_ns()}@example.com", email_verified_at=datetime.now(UTC)
    )
    task = Task.objects.create(owner=owner, title="Chaos", description="Benchmark reminder.")
    rows = Reminder.objects.bulk_create(
        (Reminder(task=task, remind_at=at, due_at=at) for at in moments), batch_size=5000
    )
    reminder_dispatch()
    return {row.pk: row.remind_at.timestamp() for row in rows}


def sent(due: dict[int, float]) -> int:
    from tasks.models import Reminder

    return Reminder.objects.filter(pk__in=list(due), state="SENT").count()


class Received:
    """What the provider (a process of its own) accepted: its record file, one line an email."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __len__(self) -> int:
        try:
            return self.path.read_bytes().count(b"\n")
        except FileNotFoundError:
            return 0

    def items(self) -> list[tuple[int, float]]:
        """(reminder id, epoch seconds accepted), in the order accepted."""
        if not self.path.exists():
            return []
        lines = self.path.read_text().splitlines()
        return [(int(pk), float(at)) for pk, at, *_ in (line.split() for line in lines)]

    def ids(self) -> list[int]:
        return [pk for pk, _ in self.items()]

    def replayed(self) -> int:
        """Requests the provider answered from an idempotency key it had seen: duplicates the
        key prevented."""
        try:
            return Path(f"{self.path}.replayed").read_bytes().count(b"\n")
        except FileNotFoundError:
            return 0

    def reset(self) -> None:
        self.path.unlink(missing_ok=True)
        Path(f"{self.path}.replayed").unlink(missing_ok=True)


def kills(*, stack, received: Received, rounds: int, emails: int, rng) -> dict:
    results = []
    for round_ in range(rounds):
        received.reset()
        start = time.time() + 2
        due = seed([datetime.fromtimestamp(start + n / emails, UTC) for n in range(emails)])
        fraction = rng.uniform(0.1, 0.9)
        wait_until(lambda: len(received) >= fraction * emails, 60, 0.002)  # noqa: B023
        # Then a random moment: the check above wakes right after an acceptance, and a kill
        # tied to one would land in its duplicate window more often than chance.
        time.sleep(rng.uniform(0, 0.05))
        stack["worker"].kill()
        killed_at = time.time()
        at_kill = len(received)
        done = wait_until(lambda: sent(due) == emails, 120, 0.2)  # noqa: B023
        time.sleep(0.5)
        ids = received.ids()
        result = {
            "all_sent": done and set(ids) == set(due),
            "received_at_kill": at_kill,
            "duplicates": len(ids) - len(set(ids)),
            "replayed_by_key": received.replayed(),
            "recovery_s": round(max(at for _, at in received.items()) - killed_at, 2),
        }
        results.append(result)
        print(f"kill {round_ + 1}/{rounds}: {result}", flush=True)
    duplicates = sum(r["duplicates"] for r in results)
    summary = {
        "rounds": rounds,
        "emails_per_round": emails,
        "all_sent": all(r["all_sent"] for r in results),
        "duplicates": duplicates,
        "duplicate_rate": duplicates / (rounds * emails),
        "replayed_by_key": sum(r["replayed_by_key"] for r in results),
        "max_duplicates_in_a_round": max(r["duplicates"] for r in results),
        "recovery_s": {
            "median": statistics.median(r["recovery_s"] for r in results),
            "max": max(r["recovery_s"] for r in results),
        },
        "stale_sending_seconds": 10,
        "rounds_detail": results,
    }
    print(
        f"kills: {duplicates} duplicates in {rounds * emails} emails "
        f"({100 * summary['duplicate_rate']:.3f}%), {summary['replayed_by_key']} more answered "
        f"from an idempotency key without sending; recovery median "
        f"{summary['recovery_s']['median']} s, max {summary['recovery_s']['max']} s",
        flush=True,
    )
    return summary


def outage(*, redis_server: RedisServer, received: Received, supervisor, rng) -> dict:
    received.reset()
    boundary = (int(time.time()) // 60 + 1) * 60
    if boundary - time.time() < 35:
        boundary += 60
    time.sleep(max(0, boundary - 35 - time.time()))
    moments = sorted(boundary - 28 + rng.uniform(0, 56) for _ in range(1000))
    due = seed([datetime.fromtimestamp(at, UTC) for at in moments])
    time.sleep(max(0, boundary - 30 - time.time()))
    redis_server.stop()
    stopped = time.time()
    time.sleep(max(0, boundary + 30 - time.time()))
    redis_server.start()
    back = time.time()
    done = wait_until(lambda: sent(due) == len(due), 180, 0.2)
    time.sleep(0.5)
    ids = received.ids()
    lateness = sorted(at - due[pk] for pk, at in received.items())
    result = {
        "reminders": len(due),
        "redis_down_s": round(back - stopped, 1),
        "all_sent": done and set(ids) == set(due),
        "lost": len(set(due) - set(ids)),
        "duplicates": len(ids) - len(set(ids)),
        "lateness_s": {
            "p50": round(lateness[len(lateness) // 2], 2),
            "p99": round(lateness[int(0.99 * len(lateness))], 2),
            "max": round(lateness[-1], 2),
        },
        "last_arrival_after_redis_back_s": round(max(at for _, at in received.items()) - back, 2),
        "restarts": list(supervisor.exits),
        "all_running": supervisor.all_running(),
    }
    print(f"outage: {result}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--scenarios", nargs="*", default=["kills", "outage"])
    parser.add_argument("--transport", choices=["smtp", "postmark", "resend"], default="smtp")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument(
        "--idempotency-header",
        default="",
        help="smtp: the relay honours keys in this header, the worker sends them "
        "(EMAIL_IDEMPOTENCY_HEADER), e.g. Resend-Idempotency-Key",
    )
    args = parser.parse_args()
    # Stopped with SIGTERM, still stop the processes it started (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    redis_server = RedisServer()  # the bench's wake-ups go to the same Redis
    setup_reminder_bench(name="chaos", redis_server=redis_server)

    rng = random.Random(14)
    redis_server.start()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-chaos-") as tmp:
        received = Received(Path(tmp) / "accepted.records")
        provider = Provider(
            kind=args.transport,
            record=received.path,
            latency_ms=20,
            idempotency_header=args.idempotency_header,
        )
        env = {
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "REDIS_URL": redis_server.url,
            **REMINDER_WORKER_ENV,
            **provider.worker_env(),
            "REMINDER_STALE_SENDING_SECONDS": "10",
        }
        worker = ManagedProcess(
            name="worker",
            args=["rundramatiq", "--processes", str(args.processes), "--threads", str(THREADS)],
            env=env,
            log=Path(tmp) / "worker.log",
        )
        scheduler = ManagedProcess(
            name="scheduler", args=["runscheduler"], env=env, log=Path(tmp) / "scheduler.log"
        )
        supervisor = Supervisor([worker, scheduler])
        supervisor.start()
        time.sleep(5)
        try:
            if "kills" in args.scenarios:
                results["kills"] = kills(
                    stack={"worker": worker},
                    received=received,
                    rounds=args.kills,
                    emails=args.emails,
                    rng=rng,
                )
            if "outage" in args.scenarios:
                supervisor.exits.clear()
                results["outage"] = outage(
                    redis_server=redis_server, received=received, supervisor=supervisor, rng=rng
                )
        finally:
            supervisor.stop()
            provider.stop()
            redis_server.stop()
    previous = RESULTS / "chaos.json"
    kept = json.loads(previous.read_text()) if previous.exists() else {}
    kept.pop("kills", None)  # the old single-transport layout
    runs = {**kept, "machine": {"cpus": os.cpu_count()}}
    for name, result in results.items():  # a run of one scenario keeps the other's figures
        keyed = "_keyed" if args.transport == "smtp" and args.idempotency_header else ""
        key = f"kills_{args.transport}{keyed}_{args.processes}p"
        runs[name if name == "outage" else key] = {**result, "worker_processes": args.processes}
    path = write_json("chaos.json", runs)
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
