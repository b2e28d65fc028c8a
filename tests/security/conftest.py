import os
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache.backends.redis import RedisCache

from tests.conftest import skip_or_fail


@dataclass(frozen=True)
class SharedRedis:
    url: str
    client: Any  # redis.Redis


@pytest.fixture
def shared_redis() -> SharedRedis:
    """The Redis that the processes of a test share (REDIS_TEST_URL); skipped without one."""
    url = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/5")
    client = RedisCache(url, {})._cache.get_client()
    try:
        client.ping()
    except Exception as exc:  # any connection failure means no Redis here
        skip_or_fail(f"Redis is not reachable at {url}: {exc}")
    return SharedRedis(url, client)
