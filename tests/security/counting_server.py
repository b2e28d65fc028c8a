"""Settings for a real web server whose password checks are counted (test_throttling).

Run as DJANGO_SETTINGS_MODULE=tests.security.counting_server with PASSWORD_CHECKS_URL (a Redis
URL) and CACHE_KEY_PREFIX set: every password the server checks increments one Redis counter,
shared by all its processes.
"""

import os

import redis
from django.contrib.auth.hashers import MD5PasswordHasher

from core.settings import *  # noqa: F403

PASSWORD_HASHERS = ["tests.security.counting_server.CountingPasswordHasher"]
CACHES["default"]["KEY_PREFIX"] = os.environ["CACHE_KEY_PREFIX"]  # noqa: F405
COUNTER_KEY = "password-checks"


class CountingPasswordHasher(MD5PasswordHasher):
    algorithm = "counted_md5"

    def verify(self, password: str, encoded: str) -> bool:
        redis.Redis.from_url(os.environ["PASSWORD_CHECKS_URL"]).incr(
            os.environ["CACHE_KEY_PREFIX"] + COUNTER_KEY
        )
        return super().verify(password, encoded)
