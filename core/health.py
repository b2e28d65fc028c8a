"""Liveness and readiness, on django-health-check's check and view classes.

- Liveness (``/health/``, ``/health/live/``): the process answers. No I/O, so a slow database
  never makes an orchestrator restart healthy web processes.
- Readiness (``/health/ready/``): the database answers and is migrated, the cache and the
  broker answer, a worker beat recently and the reminder dispatcher ran recently.

Workers, the scheduler and the dispatcher leave heartbeats (a timestamp) in the default cache,
which every process of a deployment shares (Redis); in embedded mode they run in the web
process and its memory cache holds them. Each check runs in the request's own thread, on its
persistent database connection, so a healthy probe costs a few cache and database round trips
(anonymous probes run the checks directly, without the library's event loop).
"""

import dataclasses
import socket
import time
import uuid
from functools import cache

import structlog
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.core.cache import cache as default_cache
from django.core.cache import caches
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from health_check.base import HealthCheck
from health_check.exceptions import HealthCheckException, ServiceUnavailable
from health_check.views import HealthCheckView

WORKER = "worker"
SCHEDULER = "scheduler"
DISPATCHER = "dispatcher"

logger = structlog.get_logger(__name__)

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


@dataclasses.dataclass
class SyncCheck(HealthCheck):
    """A check whose work is a plain function, ``check()``.

    The library's view runs it through ``run`` (back in the request's thread, whose database
    connection Django keeps and recycles); the anonymous probe calls ``check()`` directly,
    without an event loop: a healthy probe is then a few round trips and nothing else.
    """

    def check(self) -> None:
        raise NotImplementedError

    async def run(self) -> None:
        await sync_to_async(self.check, thread_sensitive=True)()


@dataclasses.dataclass
class Database(SyncCheck):
    """SELECT 1 on the default connection (the library's own check opens a new one)."""

    def check(self) -> None:
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
class Migrations(SyncCheck):
    def check(self) -> None:
        try:
            _migrated()
        except DatabaseError as exc:
            raise ServiceUnavailable("The migration table cannot be read.") from exc


@dataclasses.dataclass
class Cache(SyncCheck):
    """Set and read back a key of its own (the library's check, without the event loop)."""

    alias: str = "default"

    def check(self) -> None:
        key, value = f"health:probe:{uuid.uuid4().hex}", time.time()
        try:
            caches[self.alias].set(key, value, timeout=5)
            answer = caches[self.alias].get(key)
        except Exception as exc:  # each backend raises its own errors
            raise ServiceUnavailable("The cache does not answer.") from exc
        if answer != value:
            raise ServiceUnavailable("The cache did not return what was written.")


@cache
def _redis_probe_client():
    import redis

    return redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1, health_check_interval=0
    )


@dataclasses.dataclass
class Broker(SyncCheck):
    """PING the broker's Redis. The embedded broker lives in this process: nothing to reach."""

    def check(self) -> None:
        if not settings.REDIS_URL:
            return
        import redis

        try:
            _redis_probe_client().ping()
        except redis.RedisError as exc:
            raise ServiceUnavailable("The broker (Redis) does not answer.") from exc


@dataclasses.dataclass
class Heartbeat(SyncCheck):
    """``name`` beat within ``max_age`` seconds (read from the shared cache)."""

    name: str = WORKER
    max_age: int = 60

    def check(self) -> None:
        try:
            seen = last_beat(self.name)
        except Exception as exc:  # any cache backend error: the cache check names it
            raise ServiceUnavailable(f"Cannot read the {self.name}'s heartbeat.") from exc
        if seen is None:
            raise ServiceUnavailable(f"No {self.name} seen in the last {self.max_age} s.")
        age = time.time() - seen
        if age > self.max_age:
            raise ServiceUnavailable(f"The {self.name} was last seen {age:.0f} s ago.")


def readiness_checks() -> list[SyncCheck]:
    return [
        Database(),
        Migrations(),
        Cache(),
        Broker(),
        Heartbeat(name=WORKER, max_age=settings.HEALTH_WORKER_MAX_AGE),
        Heartbeat(name=DISPATCHER, max_age=settings.HEALTH_DISPATCHER_MAX_AGE),
    ]


class ReadinessDetailView(HealthCheckView):
    """Every check with its result, in the format the caller accepts (JSON, text, HTML,
    OpenMetrics): the library's view. 503 rather than its 500 when a check fails."""

    def get_checks(self):
        return readiness_checks()

    async def get(self, request: HttpRequest, *args, **kwargs):
        response = await super().get(request, *args, **kwargs)
        if response.status_code == 500:
            response.status_code = 503
        return response


_detail = async_to_sync(ReadinessDetailView.as_view())


@never_cache
def readiness(request: HttpRequest) -> HttpResponse:
    """200 when every check passes, 503 otherwise.

    Anonymous callers in production get the status code and one word; staff (or anyone with
    DEBUG) get each check's result. Failed checks are logged, once per probe.
    """
    if settings.DEBUG or request.user.is_staff:
        return _detail(request)
    failed = []
    for check in readiness_checks():
        try:
            check.check()
        except HealthCheckException as exc:
            failed.append(f"{type(check).__name__}: {exc.message}")
    if failed:
        logger.warning("readiness_failed", failed=failed)
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})
