"""A real `rundramatiq` process seen from outside: its heartbeat, its metrics port and its
JSON log lines, while it delivers a reminder (PostgreSQL, a private redis-server, SMTP)."""

import json
import urllib.request
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from core import health
from tasks.reminders.services import reminder_add
from tests.factories import TaskFactory, UserFactory
from tests.processes import WorkerProcess, free_port, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def observed_worker(postgres, redis_server, smtp_server, tmp_path_factory):
    port = free_port(range(19200, 19300))
    process = WorkerProcess(
        env={
            "DATABASE_URL": postgres,
            "REDIS_URL": redis_server.url,
            "CACHE_URL": redis_server.url.rsplit("/", 1)[0] + "/1",
            "EMAIL_PROVIDER": "smtp",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_server.port),
            "LOG_FORMAT": "json",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("worker-metrics")),
            "METRICS_PORT": str(port),
            "dramatiq_worker_timeout": "100",
        },
        log=tmp_path_factory.mktemp("observed-worker") / "worker.log",
    )
    process.start(redis_server.url)
    yield process, port
    process.stop()


@pytest.fixture
def shared_cache(settings, redis_server):
    """This test process reads the cache the worker writes its heartbeat to."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_server.url.rsplit("/", 1)[0] + "/1",
            "KEY_PREFIX": "taskgraph",
        }
    }


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def test_the_worker_beats_serves_metrics_and_logs_each_delivery_in_json(
    observed_worker, redis_broker, inbox, shared_cache
):
    process, port = observed_worker
    assert wait_until(lambda: health.last_beat(health.WORKER, this_host=True), 15)
    call_command("healthprobe", "worker")

    task = TaskFactory(owner=UserFactory())
    reminder = reminder_add(
        user=task.owner, task_id=task.pk, at=timezone.now() + timedelta(seconds=1)
    )
    assert wait_until(lambda: len(inbox.received) == 1, 10)

    def delivered_line():
        for line in process.log.read_text().splitlines():
            if line.startswith("{") and '"reminder_delivery"' in line:
                return json.loads(line)
        return None

    assert wait_until(delivered_line, 5)
    line = delivered_line()
    assert (line["reminder_id"], line["task_id"], line["outcome"]) == (
        reminder.pk,
        task.pk,
        "sent",
    )
    assert line["actor"] == "deliver_due_reminders"
    assert len(line["message_id"]) == 36  # the Dramatiq message that woke the worker
    assert 0 <= line["lateness_s"] < 1
    body = scrape(port)
    assert 'taskgraph_reminder_deliveries_total{outcome="sent"} 1.0' in body
    assert "taskgraph_reminder_lateness_seconds_count 1.0" in body
    assert 'taskgraph_dramatiq_messages_total{actor="deliver_due_reminders",outcome="ok"}' in body
