"""Liveness and readiness, on django-health-check's check and view classes.

- Liveness (``/health/``, ``/health/live/``): the process answers. No I/O, so a slow database
  never makes an orchestrator restart healthy web processes.
- Readiness (``/health/ready/``): the database answers and is migrated, the cache and the
  broker answer, a worker beat recently and the reminder dispatcher ran recently.

Workers, the scheduler and the dispatcher leave heartbeats (a timestamp) in the default cache,
which every process of a deployment shares (Redis); in embedded mode they run in the web
process and its memory cache holds them. Each check runs in the request's own thread, on its
persistent database connection, so a healthy probe costs a few cache and database round trips.
"""

import dataclasses
import socket
import time
from functools import cache

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache as default_cache
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from health_check.base import HealthCheck
from health_check.checks import Cache
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView

WORKER = "worker"
SCHEDULER = "scheduler"
DISPATCHER = "dispatcher"

_KEY = "health:beat:{name}"
_HOST_KEY = "health:beat:{name}:{host}"


def beat(name: str) -> None:
    """Record that ``name`` (worker, scheduler, dispatcher) is alive now, for the readiness
    check (any process) and for this host's container healthcheck."""
    now = time.time()
    expiry = 10 * max(settings.HEALTH_WORKER_MAX_AGE, settings.HEALTH_DISPATCHER_MAX_AGE)
    default_cache.set_many(
        {_KEY.format(name=name): now, _HOST_KEY.format(name=name, host=socket.gethostname()): now},
        timeout=expiry,
    )


def last_beat(name: str, *, this_host: bool = False) -> float | None:
    """When ``name`` last beat (a Unix time), anywhere or on this host; None if never."""
    if this_host:
        return default_cache.get(_HOST_KEY.format(name=name, host=socket.gethostname()))
    return default_cache.get(_KEY.format(name=name))


def _in_request_thread(function):
    # Under WSGI the view's event loop runs in a helper thread; thread_sensitive sends the call
    # back to the request thread, whose database connection Django keeps and recycles.
    return sync_to_async(function, thread_sensitive=True)


@dataclasses.dataclass
class Database(HealthCheck):
    """SELECT 1 on the default connection (the library's own check opens a new one)."""

    async def run(self) -> None:
        await _in_request_thread(self._select_one)()

    @staticmethod
    def _select_one() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except DatabaseError as exc:
            raise ServiceUnavailable("The database does not answer.") from exc


@cache
def _migrated() -> bool:
    """True once every migration is applied; remembered for the life of the process (a newer
    deploy runs new processes). Raises while migrations are pending, and is asked again."""
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        raise ServiceUnavailable(f"{len(pending)} migrations are not applied.")
    return True


@dataclasses.dataclass
class Migrations(HealthCheck):
    async def run(self) -> None:
        await _in_request_thread(self._check)()

    @staticmethod
    def _check() -> None:
        try:
            _migrated()
        except DatabaseError as exc:
            raise ServiceUnavailable("The migration table cannot be read.") from exc


@cache
def _redis_probe_client():
    import redis

    return redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1, health_check_interval=0
    )


@dataclasses.dataclass
class Broker(HealthCheck):
    """PING the broker's Redis. The embedded broker lives in this process: nothing to reach."""

    async def run(self) -> None:
        if not settings.REDIS_URL:
            return
        await _in_request_thread(self._ping)()

    @staticmethod
    def _ping() -> None:
        import redis

        try:
            _redis_probe_client().ping()
        except redis.RedisError as exc:
            raise ServiceUnavailable("The broker (Redis) does not answer.") from exc


@dataclasses.dataclass
class Heartbeat(HealthCheck):
    """``name`` beat within ``max_age`` seconds (read from the shared cache)."""

    name: str = WORKER
    max_age: int = 60

    async def run(self) -> None:
        await _in_request_thread(self._check)()

    def _check(self) -> None:
        try:
            seen = last_beat(self.name)
        except Exception as exc:  # any cache backend error: the cache check names it
            raise ServiceUnavailable(f"Cannot read the {self.name}'s heartbeat.") from exc
        if seen is None:
            raise ServiceUnavailable(f"No {self.name} seen in the last {self.max_age} s.")
        age = time.time() - seen
        if age > self.max_age:
            raise ServiceUnavailable(f"The {self.name} was last seen {age:.0f} s ago.")


def readiness_checks() -> list:
    return [
        Database(),
        Migrations(),
        Cache(),
        Broker(),
        Heartbeat(name=WORKER, max_age=settings.HEALTH_WORKER_MAX_AGE),
        Heartbeat(name=DISPATCHER, max_age=settings.HEALTH_DISPATCHER_MAX_AGE),
    ]


class ReadinessView(HealthCheckView):
    """Every check, in parallel. 200 when all pass, 503 otherwise.

    Anonymous callers in production get the status code and one word; staff (or anyone with
    DEBUG) get each check's result in the format they accept (JSON, text, HTML, OpenMetrics).
    """

    def get_checks(self):
        return readiness_checks()

    async def get(self, request: HttpRequest, *args, **kwargs):
        user = await request.auser()
        if settings.DEBUG or user.is_staff:
            response = await super().get(request, *args, **kwargs)
            if response.status_code == 500:
                response.status_code = 503
            return response
        results = [await check.get_result() for check in self.get_checks()]
        ok = not any(result.error for result in results)
        return JsonResponse({"status": "ok" if ok else "unavailable"}, status=200 if ok else 503)
