"""CI runs with REQUIRE_SERVICES=1: then the suite must really be on PostgreSQL and Redis."""

import os

import pytest
from django.db import connection

from tests.conftest import skip_or_fail


@pytest.mark.django_db
def test_the_suite_runs_on_postgresql_when_services_are_required():
    if connection.vendor != "postgresql":
        skip_or_fail(f"the suite runs on {connection.vendor}; set DATABASE_URL to PostgreSQL")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_redis_is_reachable_when_services_are_required():
    import redis

    url = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")
    try:
        assert redis.Redis.from_url(url, socket_connect_timeout=2).ping() is True
    except redis.ConnectionError as exc:
        skip_or_fail(f"Redis at {url} is unreachable: {exc}")
