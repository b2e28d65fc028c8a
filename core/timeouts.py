"""A time limit on the database work of each web request, below the web server's own.

gunicorn kills a worker that takes longer than its `--timeout` (30 s by default): the client
gets a bare 500 and every other request on that worker is lost with it. So the database gives
up first, and the API answers with a clean error (code TIMEOUT, see schema.limits):

- PostgreSQL: `statement_timeout` on the connections web requests use (each statement, not
  the request as a whole: gunicorn's timeout remains the last resort);
- SQLite: a progress handler that interrupts any statement still running past the request's
  deadline (the request as a whole).

Only web requests carry the limit (`DatabaseTimeLimit`, a middleware, marks them): the
reminder worker, the dispatcher and management commands keep their own limits (Dramatiq's
actor time limits) and their connections stay unlimited.
"""

import time
from contextlib import ExitStack
from contextvars import ContextVar

from django.conf import settings
from django.db import DatabaseError, OperationalError, connections
from django.db.backends.signals import connection_created
from django.dispatch import receiver

# The monotonic deadline of the web request running in this thread (None: not a request).
_deadline: ContextVar[float | None] = ContextVar("request_db_deadline", default=None)
# How often (in SQLite virtual machine instructions) the handler looks at the clock: a few
# microseconds of work; small lookups end before their first check.
SQLITE_CHECK_EVERY = 10_000
QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for statement_timeout


def _limit_ms() -> int:
    return settings.WEB_DB_TIMEOUT_MS


def _past_deadline() -> bool:
    deadline = _deadline.get()
    return deadline is not None and time.monotonic() > deadline


def _carries_limit(connection) -> bool:
    raw = connection.connection
    if raw is None:
        return True  # nothing to limit yet: connection_created will see to it
    # Marked on Django's wrapper with the session's identity: a reconnect starts afresh.
    mark = id(raw) if connection.vendor == "sqlite" else (id(raw), _limit_ms())
    return getattr(connection, "taskgraph_timeout", None) == mark


def _apply(connection) -> None:
    """Put the web limit on this connection if it does not carry it yet (once per session)."""
    if _carries_limit(connection):
        return
    raw = connection.connection
    if connection.vendor == "sqlite":
        raw.set_progress_handler(_past_deadline, SQLITE_CHECK_EVERY)
        connection.taskgraph_timeout = id(raw)
    elif connection.vendor == "postgresql":
        limit = _limit_ms()
        # Marked first: the statement below goes through the connection's execute wrappers,
        # _LimitFirst among them.
        connection.taskgraph_timeout = (id(raw), limit)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('statement_timeout', %s, false)", [f"{limit}ms"])
        except BaseException:
            connection.taskgraph_timeout = None
            raise


@receiver(connection_created)
def _on_connection_created(sender, connection, **kwargs) -> None:
    # SQLite: every connection gets the handler (it does nothing outside requests).
    # PostgreSQL: only connections opened while serving a request.
    if connection.vendor == "sqlite" or _deadline.get() is not None:
        _apply(connection)


class _LimitFirst:
    """An execute wrapper for a connection opened before this request (by an earlier one with
    another limit, a start-up check): the limit is put on before the request's first query,
    not when the request starts. A request that queries nothing (the liveness probe) leaves
    the database alone, even when it is down."""

    def __init__(self, connection) -> None:
        self.connection = connection

    def __call__(self, execute, sql, params, many, context):
        _apply(self.connection)
        return execute(sql, params, many, context)


class DatabaseTimeLimit:
    """Middleware: the database work of this request must end within WEB_DB_TIMEOUT_MS."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        limit = _limit_ms()
        if limit <= 0:
            return self.get_response(request)
        token = _deadline.set(time.monotonic() + limit / 1000)
        try:
            with ExitStack() as stack:
                for connection in connections.all(initialized_only=True):
                    if not _carries_limit(connection):
                        stack.enter_context(connection.execute_wrapper(_LimitFirst(connection)))
                return self.get_response(request)
        finally:
            _deadline.reset(token)


def is_timeout(exc: BaseException | None) -> bool:
    """Whether a database error is this module's limit at work."""
    if not isinstance(exc, DatabaseError):
        return False
    if getattr(exc.__cause__, "sqlstate", None) == QUERY_CANCELED:
        return True
    return isinstance(exc, OperationalError) and str(exc) == "interrupted"


def timeout_message() -> str:
    seconds = settings.WEB_DB_TIMEOUT_MS / 1000
    return (
        f"The database took too long (over {seconds:g} s) to answer this request. Ask for "
        "less (smaller pages, fewer nested lists) or try again later."
    )
