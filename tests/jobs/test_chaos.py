"""Chaos: the production topology on one machine, with its parts cut off or killed mid-work.

A `rundramatiq` worker process (4 threads) and `runscheduler`, both under a supervisor that
restarts what exits (as compose's ``restart:`` does), a private redis-server without
persistence, PostgreSQL, and the SMTP server on loopback counting what arrives. The test
process plays the web process: its wake-ups go to the same Redis. The settings are the
production defaults, except a 20 s retry backoff (30 s in production) to keep the SMTP outage
short. Each test asserts that every reminder arrived exactly once (or within the duplicate
bound of a SIGKILL), how late the latest one was, and that every process runs at the end.
"""

import time
from datetime import UTC, datetime

import pytest
import redis

from tasks.models import Reminder, ReminderState
from tasks.reminders.dispatch import reminder_dispatch
from tests.factories import TaskFactory, UserFactory
from tests.processes import ManagedProcess, Supervisor, wait_until

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
]

THREADS = 4
SEND_THREADS = 8
# Without a SENT mark yet when the worker dies: at most one email per sender thread (each has
# one SMTP connection, and one email on it between the server's acceptance and the mark).
DUPLICATE_BOUND = SEND_THREADS


class Stack:
    def __init__(self, *, postgres: str, redis_server, smtp_server, logs) -> None:
        env = {
            "DATABASE_URL": postgres,
            "REDIS_URL": redis_server.url,
            "EMAIL_PROVIDER": "smtp",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_server.port),
            "REMINDER_RETRY_BACKOFF_MS": "20000",
            # Bursts of hundreds of reminders to one owner: no per-user email caps.
            "REMINDER_EMAILS_PER_HOUR": "0",
            "REMINDER_EMAILS_PER_DAY": "0",
            "dramatiq_worker_timeout": "100",
            "REMINDER_SEND_THREADS": str(SEND_THREADS),
        }
        self.redis_server = redis_server
        self.worker = ManagedProcess(
            name="worker",
            args=["rundramatiq", "--processes", "1", "--threads", str(THREADS)],
            env=env,
            log=logs / "worker.log",
        )
        self.scheduler = ManagedProcess(
            name="scheduler", args=["runscheduler"], env=env, log=logs / "scheduler.log"
        )
        self.supervisor = Supervisor([self.worker, self.scheduler])

    def worker_ready(self) -> bool:
        client = redis.Redis.from_url(self.redis_server.url)
        return client.zcard("dramatiq:__heartbeats__") > 0


@pytest.fixture(scope="module")
def stack(postgres, redis_server, smtp_server, tmp_path_factory):
    stack = Stack(
        postgres=postgres,
        redis_server=redis_server,
        smtp_server=smtp_server,
        logs=tmp_path_factory.mktemp("chaos"),
    )
    stack.supervisor.start()
    assert wait_until(stack.worker_ready, 30, 0.1), stack.worker.log.read_text()
    yield stack
    stack.supervisor.stop()


@pytest.fixture
def chaos(stack, redis_broker, inbox, smtp_server):
    """A healthy stack at the start of each test; every process running at its end."""
    if stack.redis_server.process is None:
        stack.redis_server.start()
    stack.supervisor.exits.clear()
    yield stack
    assert wait_until(stack.supervisor.all_running, 10), stack.supervisor.exits


def seed(moments: list[datetime]) -> dict[int, float]:
    """PENDING reminders due at these moments, queued by one dispatcher run (as the periodic
    job would); returns their remind_at by id, in epoch seconds."""
    task = TaskFactory(owner=UserFactory())
    rows = Reminder.objects.bulk_create(
        Reminder(task=task, remind_at=at, due_at=at) for at in moments
    )
    assert reminder_dispatch() == len(rows)
    return {row.pk: row.remind_at.timestamp() for row in rows}


def all_sent(count: int) -> bool:
    return Reminder.objects.filter(state=ReminderState.SENT).count() == count


def latest_lateness(inbox, due: dict[int, float]) -> float:
    return max(item.at - due[item.reminder_id] for item in inbox.received)


def scheduled_after_a_failed_send(log) -> bool:
    failed, _, after = log.read_text().rpartition("Could not send Actor(dispatch_reminders)")
    return bool(failed) and "Scheduling Actor(dispatch_reminders)" in after


def at_time(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


def test_redis_stopped_across_a_minute_boundary_with_wake_ups_due_meanwhile(
    chaos, inbox, redis_server
):
    """Redis (no persistence) down for 10 s around a minute boundary, 100 reminders due
    during the outage, and the scheduler SIGKILLed just before it."""
    boundary = (int(time.time()) // 60 + 1) * 60
    if boundary - time.time() < 14:
        boundary += 60
    at_time(boundary - 14)
    due = seed([datetime.fromtimestamp(boundary - 4 + n * 0.08, UTC) for n in range(100)])
    at_time(boundary - 9)
    chaos.scheduler.kill()  # the supervisor restarts it
    at_time(boundary - 5)

    redis_server.stop()
    at_time(boundary + 5)
    redis_server.start()

    assert wait_until(lambda: all_sent(100), 30, 0.2)
    assert inbox.reminder_ids() == sorted(due)
    lateness = latest_lateness(inbox, due)
    assert lateness < 10, lateness  # sent by the sweepers while Redis was down
    assert [name for name, _ in chaos.supervisor.exits] == ["scheduler"]
    # The scheduler's boundary run waited for Redis instead of ending the process.
    assert wait_until(lambda: scheduled_after_a_failed_send(chaos.scheduler.log), 10)


def test_redis_flushed_with_wake_ups_waiting(chaos, inbox, redis_server):
    start = time.time() + 3
    due = seed([datetime.fromtimestamp(start + n * 0.015, UTC) for n in range(200)])
    time.sleep(1)

    redis.Redis.from_url(redis_server.url).flushall()

    assert wait_until(lambda: all_sent(200), 20, 0.2)
    assert inbox.reminder_ids() == sorted(due)
    assert latest_lateness(inbox, due) < 10
    assert chaos.supervisor.exits == []


def test_a_worker_sigkilled_mid_burst_is_restarted_and_the_burst_completes(chaos, inbox):
    start = time.time() + 3
    due = seed([datetime.fromtimestamp(start + n / 1000, UTC) for n in range(1000)])
    assert wait_until(lambda: len(inbox.received) >= 300, 30, 0.005)

    chaos.worker.kill()  # the supervisor restarts it
    killed_at = time.time()
    in_inbox_at_kill = len(inbox.received)

    assert wait_until(lambda: all_sent(1000), 60, 0.2)
    ids = inbox.reminder_ids()
    duplicates = len(ids) - len(set(ids))
    assert set(ids) == set(due)
    assert duplicates <= DUPLICATE_BOUND, duplicates
    recovery = max(item.at for item in inbox.received) - killed_at
    assert recovery < 60, recovery
    assert in_inbox_at_kill < 1000
    assert chaos.supervisor.exits == [("worker", -9)]


def test_the_smtp_server_down_for_45_seconds(chaos, inbox, smtp_server):
    smtp_server.stop()
    stopped = time.time()
    due = seed([datetime.fromtimestamp(stopped + 2 + n * 0.16, UTC) for n in range(50)])

    at_time(stopped + 45)
    smtp_server.start()

    # Attempts at the due time and 20 s later fail; the third, 60 s after, goes through.
    assert wait_until(lambda: all_sent(50), 40, 0.2)
    assert inbox.reminder_ids() == sorted(due)
    lateness = latest_lateness(inbox, due)
    assert lateness < 65, lateness
    assert set(Reminder.objects.values_list("attempts", flat=True)) == {3}
    assert chaos.supervisor.exits == []
