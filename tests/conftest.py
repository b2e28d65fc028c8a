import copy
import logging
import logging.config
import os
import re

import dramatiq
import pytest
from django.conf import settings as django_settings
from django.test import Client
from dramatiq.brokers.stub import StubBroker

from tests.factories import PASSWORD, UserFactory
from tests.graphql import GraphQLClient

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip a test whose service is missing, or fail it when CI demands every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


# What must never appear in a log line: the factories' password, an API token's secret.
SECRET_IN_LOG = re.compile(re.escape(PASSWORD) + r"|tg_[A-Za-z0-9_-]{40,}")


class NotFactoryBoy(logging.Filter):
    """factory_boy (a test tool) logs the arguments of the setters it calls, our fixtures'
    password among them: not the application's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith("factory")


@pytest.fixture(scope="session", autouse=True)
def _no_secret_in_the_log(tmp_path_factory):
    """Issue 13: every line the whole run logs, at DEBUG, through the project's formatter; at
    the end, none may carry a password or a token (tests/ops/test_logs.py runs the flows that
    handle them; this catches whatever any other test exercises). The handler is part of the
    LOGGING setting, so it survives tests that set Django up again (the fuzzer does)."""
    path = tmp_path_factory.mktemp("log") / "run.log"
    original = django_settings.LOGGING
    config = copy.deepcopy(original)
    config["filters"] = {**config.get("filters", {}), "not_factory_boy": {"()": NotFactoryBoy}}
    config["handlers"]["secrets_scan"] = {
        "class": "logging.FileHandler",
        "filename": str(path),
        "formatter": "structlog",
        "filters": ["not_factory_boy"],
    }
    config["handlers"]["console"]["level"] = config["root"]["level"]
    config["root"] = {"handlers": [*config["root"]["handlers"], "secrets_scan"], "level": "DEBUG"}
    django_settings.LOGGING = config
    logging.config.dictConfig(config)
    yield
    django_settings.LOGGING = original
    logging.config.dictConfig(original)
    leaks = [line for line in path.read_text().splitlines() if SECRET_IN_LOG.search(line)]
    assert not leaks, f"secrets in the log ({path}):\n" + "\n".join(leaks[:5])


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 at production strength costs ~0.3 s a hash; tests hash hundreds of passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache(settings, request):
    # Each test its own memory cache: throttling counters must not leak from test to test,
    # and clearing a Redis cache would flush the broker's database with it.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": request.node.nodeid,
        }
    }


@pytest.fixture
def user(db):
    return UserFactory(email="alice@example.com", timezone="Europe/Paris")


@pytest.fixture
def other_user(db):
    return UserFactory(email="mallory@example.com")


@pytest.fixture
def anon(db) -> GraphQLClient:
    return GraphQLClient(Client())


@pytest.fixture
def gql(user) -> GraphQLClient:
    client = Client()
    client.force_login(user)
    return GraphQLClient(client)


@pytest.fixture
def other_gql(other_user) -> GraphQLClient:
    client = Client()
    client.force_login(other_user)
    return GraphQLClient(client)


@pytest.fixture
def stub_broker():
    """The in-process broker the settings install without REDIS_URL, emptied around the test."""
    broker = dramatiq.get_broker()
    assert isinstance(broker, StubBroker)
    broker.flush_all()
    yield broker
    broker.flush_all()


def run_in_a_worker(broker: StubBroker, actor: dramatiq.Actor) -> None:
    """Send `actor` one message and let an in-process worker run it, then stop the worker."""
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        actor.send()
        broker.join(actor.queue_name)
        worker.join()
    finally:
        worker.stop()
