"""Liveness and readiness: what a load balancer, an orchestrator and an operator see."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core import health
from jobs import actors
from tests.conftest import run_in_a_worker, skip_or_fail
from tests.factories import UserFactory
from tests.processes import ROOT, free_port, start_runserver, wait_until

pytestmark = pytest.mark.django_db

ALL_CHECKS = {
    "Database()",
    "Migrations()",
    "Cache(alias='default')",
    "Broker()",
    "Heartbeat(name='worker', max_age=60)",
    "Heartbeat(name='dispatcher', max_age=180)",
}


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(UserFactory(is_staff=True))
    return client


def ready(client: Client):
    return client.get("/health/ready/", HTTP_ACCEPT="application/json")


def beat_everything():
    health.beat(health.WORKER)
    health.beat(health.DISPATCHER)


@pytest.mark.parametrize("url", ["/health/", "/health/live/"])
def test_liveness_answers_without_touching_the_database(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert len(queries) == 0


def test_readiness_is_ok_when_every_dependency_answers_and_the_worker_and_dispatcher_beat(
    staff_client,
):
    beat_everything()

    response = ready(staff_client)

    assert response.status_code == 200
    assert response.json() == dict.fromkeys(ALL_CHECKS, "OK")


def test_readiness_fails_with_503_when_no_worker_was_ever_seen(staff_client):
    health.beat(health.DISPATCHER)

    response = ready(staff_client)

    assert response.status_code == 503
    body = response.json()
    assert body["Heartbeat(name='worker', max_age=60)"] == (
        "Unavailable: No worker seen in the last 60 s."
    )
    assert body["Heartbeat(name='dispatcher', max_age=180)"] == "OK"


def test_readiness_fails_when_the_dispatcher_has_not_run_for_too_long(staff_client, settings):
    beat_everything()
    settings.HEALTH_DISPATCHER_MAX_AGE = 0
    time.sleep(0.01)

    response = ready(staff_client)

    assert response.status_code == 503
    [message] = [v for k, v in response.json().items() if "dispatcher" in k]
    assert message.startswith("Unavailable: The dispatcher was last seen ")


def test_anonymous_callers_in_production_get_the_status_code_and_nothing_else(client):
    assert ready(client).status_code == 503
    assert ready(client).json() == {"status": "unavailable"}

    beat_everything()

    response = ready(client)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_with_debug_anyone_gets_the_detail(client, settings):
    settings.DEBUG = True
    beat_everything()

    response = ready(client)

    assert response.status_code == 200
    assert set(response.json()) == ALL_CHECKS


def test_non_staff_users_get_no_detail(client):
    client.force_login(UserFactory())
    beat_everything()

    assert ready(client).json() == {"status": "ok"}


def test_a_running_worker_and_the_dispatcher_actor_make_the_service_ready(
    transactional_db, staff_client, stub_broker
):
    run_in_a_worker(stub_broker, actors.dispatch_reminders)

    assert ready(staff_client).status_code == 200
    assert time.time() - health.last_beat(health.WORKER, this_host=True) < 5


def test_the_scheduler_beats_when_it_enqueues_a_periodic_message(stub_broker):
    assert health.last_beat(health.SCHEDULER) is None

    actors.dispatch_reminders.send_with_options(scheduled_at="2030-01-01T00:00:00+00:00")

    assert time.time() - health.last_beat(health.SCHEDULER) < 5


def test_a_message_sent_by_hand_is_not_a_scheduler_heartbeat(stub_broker):
    actors.dispatch_reminders.send()

    assert health.last_beat(health.SCHEDULER) is None


def test_embedded_mode_counts_the_in_process_worker_and_dispatcher(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": "",
        "DEBUG": "1",
    }
    env.pop("REMINDERS_EMBEDDED", None)
    env.pop("CACHE_URL", None)
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, capture_output=True
    )
    assert migrate.returncode == 0, migrate.stderr
    port = free_port(range(18400, 18420))
    server = start_runserver(port=port, env=env, log=tmp_path / "server.log")
    url = f"http://127.0.0.1:{port}/health/ready/"
    seen = {}

    def ready_now() -> bool:
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                seen.update(json.load(response))
                return True
        except urllib.error.HTTPError as exc:
            seen.update(json.load(exc))
        except OSError:
            pass
        return False

    try:
        assert wait_until(ready_now, 15), seen
    finally:
        server.terminate()
        server.wait(10)
    assert seen == dict.fromkeys(ALL_CHECKS, "OK")


def ready_with_broker(client: Client, settings, url: str):
    """Readiness with REDIS_URL set to `url` (the cached probe client made anew for it)."""
    settings.REDIS_URL = url
    health._redis_probe_client.cache_clear()
    try:
        return ready(client)
    finally:
        health._redis_probe_client.cache_clear()


def test_an_unreachable_broker_makes_the_service_unready(staff_client, settings):
    beat_everything()
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    response = ready_with_broker(staff_client, settings, f"redis://127.0.0.1:{port}/0")

    assert response.status_code == 503
    assert response.json()["Broker()"] == "Unavailable: The broker (Redis) does not answer."


@pytest.mark.services
def test_a_reachable_redis_broker_is_ready(staff_client, settings):
    import redis

    url = "redis://127.0.0.1:6379/8"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        skip_or_fail("Redis is not running on 127.0.0.1:6379")
    beat_everything()
    response = ready_with_broker(staff_client, settings, url)

    assert response.status_code == 200
    assert response.json()["Broker()"] == "OK"


def test_the_worker_probe_passes_only_after_this_hosts_worker_beat():
    with pytest.raises(CommandError, match="No worker heartbeat from"):
        call_command("healthprobe", "worker")

    health.beat(health.WORKER)

    call_command("healthprobe", "worker")
    with pytest.raises(CommandError, match=r"The worker last beat \d+ s ago \(limit 0 s\)"):
        time.sleep(0.01)
        call_command("healthprobe", "worker", "--max-age", "0")


def test_the_web_probe_fails_when_nothing_listens():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    with pytest.raises(CommandError, match="does not answer"):
        call_command("healthprobe", "web", "--url", f"http://127.0.0.1:{port}/health/")


def test_a_failed_probe_logs_which_checks_failed_once(client, caplog):
    health.beat(health.WORKER)

    with caplog.at_level("WARNING"):
        assert ready(client).status_code == 503

    [record] = [r for r in caplog.records if "readiness_failed" in str(r.msg)]
    assert record.msg["failed"] == [
        "Heartbeat: No dispatcher seen in the last 180 s.",
    ]


def test_a_cache_outage_is_logged_once_and_the_recovery_once(settings, caplog):
    from jobs.heartbeat import Heartbeat

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    middleware = Heartbeat()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    }
    with caplog.at_level("INFO", logger="jobs.heartbeat"):
        for _ in range(3):
            middleware._beat(health.WORKER)
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
        middleware._beat(health.WORKER)
        middleware._beat(health.WORKER)

    assert [r.getMessage() for r in caplog.records if r.name == "jobs.heartbeat"] == [
        "Could not record the worker heartbeat.",
        "Recording the worker heartbeat again.",
    ]
    assert health.last_beat(health.WORKER) is not None
