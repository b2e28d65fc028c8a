"""Dramatiq threads through a Redis outage, on a private redis-server.

Dramatiq 2.2.1's delay-queue consumer thread dies when Redis goes away while it releases a due
delayed message (see core/redis_broker.py and docs/reminders.md). The first test reproduces it
with Dramatiq's own broker, the second shows the project's broker surviving the same outage,
and the last shows that a worker process whose thread died anyway exits with a code its
supervisor sees.
"""

import logging
import shutil
import threading
import time
import traceback
from queue import PriorityQueue

import dramatiq
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker as StockRedisBroker
from dramatiq.middleware import Middleware
from dramatiq.worker import ConsumerThread

from core.redis_broker import RedisBroker
from core.worker_watchdog import EXIT_CODE
from tests.conftest import skip_or_fail
from tests.processes import RedisServer, WorkerProcess, wait_until

pytestmark = pytest.mark.services

UNEXPECTED = "Consumer encountered an unexpected error."


@pytest.fixture
def redis_server():
    if shutil.which("redis-server") is None:
        skip_or_fail("redis-server is not installed")
    server = RedisServer()
    server.start()
    yield server
    server.stop()


class PauseBeforeDelaying(Middleware):
    """Holds the consumer thread at Dramatiq's ``before_delay_message`` hook for a message whose
    argument is "pause", until the test lets it go: a known point of the thread's loop, right
    before it releases whatever delayed messages are due."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def before_delay_message(self, broker, message) -> None:
        if message.args == ("pause",):
            self.entered.set()
            self.release.wait(30)


def stop_redis_as_a_release_comes_due(server: RedisServer, broker_class) -> ConsumerThread:
    """A delay-queue consumer thread holds a message due in 1.5 s and one due in an hour; it is
    paused on a third message until the first is due and Redis is stopped. Its next Redis call
    is then the release of the due message (an enqueue), not a fetch."""
    pause = PauseBeforeDelaying()
    broker = broker_class(url=server.url)
    broker.add_middleware(pause)
    actor = dramatiq.actor(
        lambda *args: None, actor_name="noop", queue_name="outage", broker=broker
    )
    thread = ConsumerThread(
        broker=broker,
        queue_name="outage.DQ",
        prefetch=10,
        work_queue=PriorityQueue(),
        worker_timeout=100,
    )
    thread.start()
    actor.send_with_options(delay=3_600_000)
    due = actor.send_with_options(delay=1_500).options["eta"] / 1000
    assert wait_until(lambda: thread.delay_queue.qsize() == 2, 5, 0.001)
    actor.send_with_options(args=("pause",), delay=3_600_000)
    assert pause.entered.wait(5)
    time.sleep(max(0.0, due - time.time()) + 0.05)

    server.stop()
    pause.release.set()
    return thread


def logged(caplog, thread: ConsumerThread, start: str) -> list[logging.LogRecord]:
    """This thread's log records that start so."""
    return [
        record
        for record in caplog.records
        if record.getMessage().startswith(start) and record.thread == thread.ident
    ]


def unexpected_errors(caplog, thread: ConsumerThread) -> list[logging.LogRecord]:
    return logged(caplog, thread, UNEXPECTED)


def test_dramatiqs_delay_queue_thread_dies_when_redis_stops_as_it_releases_a_message(
    redis_server, caplog, monkeypatch
):
    caplog.set_level(logging.CRITICAL, logger="dramatiq")
    died = []
    monkeypatch.setattr(threading, "excepthook", died.append)

    thread = stop_redis_as_a_release_comes_due(redis_server, StockRedisBroker)
    # (redis-py retries the connection a few times before it gives up.)
    assert wait_until(lambda: not thread.is_alive(), 20)

    # The release raised redis.ConnectionError; close() re-queued the other delayed message
    # and raised it again, out of the except block: the thread is gone for good.
    assert not thread.is_alive()
    assert thread.running
    [death] = [args for args in died if args.thread is thread]
    assert death.exc_type is redis.ConnectionError
    frames = [frame.name for frame in traceback.extract_tb(death.exc_traceback)]
    assert frames[1:5] == ["run", "close", "requeue_messages", "requeue"]
    [release] = unexpected_errors(caplog, thread)
    release_frames = [frame.name for frame in traceback.extract_tb(release.exc_info[2])]
    assert release.exc_info[0] is redis.ConnectionError
    assert release_frames[:3] == ["run", "handle_delayed_messages", "enqueue"]


def test_the_projects_broker_keeps_the_thread_and_it_serves_again_after_redis_returns(
    redis_server, caplog
):
    caplog.set_level(logging.INFO, logger="dramatiq")

    thread = stop_redis_as_a_release_comes_due(redis_server, RedisBroker)
    # The same failed release, then past the close() that ended the stock thread: the thread
    # announces its consumer's restart, as after any connection error.
    assert wait_until(lambda: logged(caplog, thread, "Restarting consumer in"), 20)
    assert unexpected_errors(caplog, thread)
    redis_server.start()

    assert thread.is_alive()
    # Back on its feet (Dramatiq restarts a consumer 3 s after a connection error), it takes
    # and releases new delayed messages.
    client = redis.Redis.from_url(redis_server.url)
    actor = thread.broker.get_actor("noop")
    actor.send_with_options(delay=200)
    assert wait_until(lambda: client.llen("dramatiq:outage") == 1, 10), client.keys()
    thread.stop()


def test_a_worker_process_whose_consumer_thread_died_exits_for_its_supervisor(
    redis_server, tmp_path
):
    """Any other thread death (here an out-of-memory Redis refusing the consumer's writes while
    it holds a delayed message) ends the worker process with EXIT_CODE."""
    worker = WorkerProcess(
        env={
            "REDIS_URL": redis_server.url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
            "DRAMATIQ_NTHREADS": "1",
        },
        log=tmp_path / "worker.log",
        threads=1,
    )
    worker.start(redis_server.url)
    broker = RedisBroker(url=redis_server.url)
    actor = dramatiq.actor(lambda: None, actor_name="deliver_due_reminders", broker=broker)
    actor.send_with_options(args=(0,), delay=3_600_000)
    client = redis.Redis.from_url(redis_server.url)
    assert wait_until(lambda: client.llen("dramatiq:default.DQ") == 0, 10)
    try:
        client.config_set("maxmemory", 1)

        assert worker.process.wait(10) == EXIT_CODE
    finally:
        client.config_set("maxmemory", 0)
        if worker.process.poll() is None:
            worker.kill()  # it did not exit: leave no worker behind for the next tests
        worker.process = None
    log = (tmp_path / "worker.log").read_text()
    assert "Dramatiq threads died: consumer of 'default.DQ'" in log


def test_the_scheduler_retries_its_send_until_redis_comes_back(redis_server):
    from jobs.scheduler import PatientScheduler

    broker = RedisBroker(url=redis_server.url)
    actor = dramatiq.actor(lambda: None, actor_name="periodic_noop", broker=broker)
    scheduler = PatientScheduler(actors=[actor])
    redis_server.stop()
    restart = threading.Timer(1.5, redis_server.start)
    restart.start()

    started = time.monotonic()
    sent = scheduler.send_patiently(actor, "2030-01-01T00:00:00+00:00")

    restart.join()
    assert sent
    assert 1.5 <= time.monotonic() - started < 5
    assert redis.Redis.from_url(redis_server.url).llen("dramatiq:default") == 1
