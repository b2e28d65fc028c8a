import dramatiq
import pytest

from jobs import actors

# The PostgreSQL and private Redis fixtures of the reminder worker tests.
from tests.jobs.conftest import postgres, redis_server  # noqa: F401
from tests.webhooks.receiver import Receiver


@pytest.fixture(scope="session")
def receiver_server():
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def receiver(receiver_server, settings):
    """The loopback receiver, the only non-public address the SSRF guard lets through."""
    settings.WEBHOOK_ALLOWED_ADDRESSES = ["127.0.0.1"]
    receiver_server.reset()
    if receiver_server.server is None:
        receiver_server.start()
    yield receiver_server
    receiver_server.reset()
    if receiver_server.server is None:
        receiver_server.start()


def queued_deliveries(broker) -> list[int]:
    """The delivery ids of the deliver_webhook messages waiting on the stub broker (now or
    delayed), taken off it."""
    ids = []
    for name in list(broker.queues):
        queue = broker.queues[name]
        kept = []
        while not queue.empty():
            raw = queue.get_nowait()
            queue.task_done()  # else the queue's join() would wait for it forever
            message = dramatiq.Message.decode(raw)
            if message.actor_name == actors.deliver_webhook.actor_name:
                ids.append(message.args[0])
            else:
                kept.append(raw)
        for raw in kept:
            queue.put(raw)
    return ids


def run_queued(broker) -> int:
    """Run the actor for each queued delivery, as a worker would; how many ran."""
    ids = queued_deliveries(broker)
    for pk in ids:
        actors.deliver_webhook(pk)
    return len(ids)
