import os

import dramatiq
import pytest
from django.test import Client
from dramatiq.brokers.stub import StubBroker

from tests.factories import UserFactory
from tests.graphql import GraphQLClient

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip a test whose service is missing, or fail it when CI demands every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


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
