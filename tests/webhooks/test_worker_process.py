"""End to end with real processes: PostgreSQL, a private redis-server, a `manage.py
rundramatiq` worker (SIGKILLed at will) and the verifying receiver on loopback.

Receivers dedupe by ``webhook-id`` (Standard Webhooks): the guarantee is at least once, so
each test checks that every event arrived with a 2xx, and bounds the duplicates to the
deliveries in flight when the worker died."""

import time
from collections import Counter

import pytest
from django.utils.module_loading import import_string
from dramatiq.brokers.redis import RedisBroker

from core.broker import MIDDLEWARE
from jobs import actors
from tasks.services import task_create
from tests.factories import UserFactory
from tests.processes import WorkerProcess, wait_until
from webhooks import services
from webhooks.delivery import webhook_sweep
from webhooks.models import DeliveryState, WebhookDelivery, WebhookEvent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

THREADS = 4


@pytest.fixture(scope="module")
def webhook_worker(postgres, redis_server, tmp_path_factory):
    process = WorkerProcess(
        env={
            "DATABASE_URL": postgres,
            "REDIS_URL": redis_server.url,
            "WEBHOOK_ALLOWED_ADDRESSES": "127.0.0.1",
            "WEBHOOK_RETRY_BACKOFF_MS": "200",
            "WEBHOOK_RETRY_MAX_BACKOFF_SECONDS": "1",
            "dramatiq_worker_timeout": "100",
        },
        log=tmp_path_factory.mktemp("webhook-worker") / "worker.log",
        threads=THREADS,
    )
    process.start(redis_server.url)
    yield process
    process.stop()


@pytest.fixture
def redis_actors(redis_server):
    """The test process's after-commit wake-ups go to the private Redis, as from a web
    process configured with REDIS_URL."""
    broker = RedisBroker(
        url=redis_server.url, middleware=[import_string(path)() for path in MIDDLEWARE]
    )
    actor = actors.deliver_webhook
    previous = actor.broker
    actor.broker = broker
    broker.declare_actor(actor)
    yield broker
    actor.broker = previous
    broker.close()


@pytest.fixture
def owner(receiver, webhook_worker, redis_actors):
    owner = UserFactory()
    created = services.webhook_create(user=owner, url=receiver.url, events=["task.created"])
    receiver.secret = created.secret
    return owner


def all_succeeded(count: int) -> bool:
    return WebhookDelivery.objects.filter(state=DeliveryState.SUCCEEDED).count() == count


def expected_ids() -> set[str]:
    return {event.webhook_id for event in WebhookEvent.objects.all()}


def test_events_are_delivered_signed_within_a_second_of_the_commit(owner, receiver):
    committed = []
    for n in range(10):
        task_create(owner=owner, title=f"T{n}")
        committed.append(time.time())
        time.sleep(0.05)

    assert wait_until(lambda: len(receiver.received) == 10, 10)
    arrived = sorted(r.at for r in receiver.received)
    lateness = [a - c for a, c in zip(arrived, committed, strict=True)]
    assert max(lateness) < 1.0, lateness
    assert all(r.verified for r in receiver.received)
    assert set(receiver.ids()) == expected_ids()


def test_a_receiver_down_for_a_while_gets_everything_once_it_is_back(owner, receiver):
    receiver.stop()
    for n in range(20):
        task_create(owner=owner, title=f"T{n}")
    assert wait_until(lambda: WebhookDelivery.objects.filter(attempts__gte=2).count() == 20, 10)
    receiver.start()

    assert wait_until(lambda: all_succeeded(20), 15)
    ids = receiver.ids()
    assert sorted(ids) == sorted(expected_ids())  # each exactly once
    assert all(r.verified for r in receiver.received)


def test_a_worker_killed_mid_burst_loses_nothing(
    owner,
    receiver,
    webhook_worker,
    redis_server,
    settings,
):
    settings.WEBHOOK_STALE_SENDING_SECONDS = 1
    settings.WEBHOOK_LOST_AFTER_SECONDS = 0
    receiver.delay = 0.1  # ~1 s for all of them, four at a time
    for n in range(40):
        task_create(owner=owner, title=f"T{n}")
    assert wait_until(lambda: len(receiver.received) >= 8, 10)
    webhook_worker.kill()
    redis_server.restart_empty()  # and the messages still queued are gone with Redis
    receiver.delay = 0
    webhook_worker.start(redis_server.url)

    time.sleep(1.1)
    webhook_sweep()  # every minute in production
    assert wait_until(lambda: all_succeeded(40), 15)
    counts = Counter(receiver.ids())
    assert set(counts) == expected_ids()
    # At least once: only a delivery in flight when the worker died can come twice.
    assert sum(counts.values()) - len(counts) <= THREADS
