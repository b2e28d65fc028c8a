"""Structured logs: one JSON object a line in production, readable lines in development.

Every log line, from this project's code, Django, Dramatiq or any library that logs through
the standard library, goes through structlog's ProcessorFormatter and gets the context bound
for the current request (request id, user id, GraphQL operation) or background message.

Secrets never reach a line: values under secret-sounding keys are replaced, and API tokens
and bearer credentials are masked wherever they appear in a message. The SQL logger stays at
INFO whatever LOG_LEVEL says, since Django logs queries with their parameters (session keys,
password hashes) at DEBUG.
"""

import logging
import re
import time
import uuid
from collections.abc import Callable
from functools import lru_cache

import structlog
from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's request id is kept when it looks like an id (a UUID, a trace id, a short token):
# no spaces, no control characters, nothing that would forge or split a log line.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=-]{0,127}")

REDACTED = "[redacted]"
SECRET_KEY_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "session",
    "csrf",
    "api_key",
    "apikey",
)
SECRET_PATTERNS = (
    # Any bearer credential, and this project's API tokens (users.services.API_TOKEN_PREFIX).
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (re.compile(r"\btg_[A-Za-z0-9_-]{8,}"), "tg_" + REDACTED),
    (re.compile(r"(?i)(sessionid|csrftoken)=[^;\s]+"), r"\1=" + REDACTED),
)
# Text none of SECRET_PATTERNS can match lacks all of these words: one search instead of three
# substitutions for every string value of every line (a worker logs thousands of lines a second).
MAYBE_SECRET = re.compile(r"(?i)bearer|basic|tg_|sessionid|csrftoken")

logger = structlog.get_logger("taskgraph.request")


@lru_cache(maxsize=1024)  # log calls use a few dozen key names
def _is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(part in lowered for part in SECRET_KEY_PARTS)


def _scrub(value):
    if isinstance(value, str):
        if not MAYBE_SECRET.search(value):
            return value
        for pattern, replacement in SECRET_PATTERNS:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, dict):
        return {k: REDACTED if _is_secret_key(str(k)) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v) for v in value)
    return value


def redact_secrets(logger, method_name: str, event_dict: dict) -> dict:
    """structlog processor: the last word before rendering."""
    for key, value in event_dict.items():
        if key == "event" or not _is_secret_key(key):
            event_dict[key] = _scrub(value)
        else:
            event_dict[key] = REDACTED
    return event_dict


def _drop_formatted_message(logger, method_name: str, event_dict: dict) -> dict:
    # Another handler's Formatter may have stored the rendered text on the record already
    # (record.message): the event says it once.
    event_dict.pop("message", None)
    return event_dict


def _pre_chain() -> list:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _drop_formatted_message,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def configure_structlog() -> None:
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def formatter(*, json: bool) -> structlog.stdlib.ProcessorFormatter:
    """The one formatter every handler uses: redaction, then JSON or console rendering."""
    renderer = (
        [structlog.processors.dict_tracebacks, structlog.processors.JSONRenderer()]
        if json
        # Plain tracebacks, as Python prints them: the rich ones structlog picks when rich is
        # installed print every frame's local variables (passwords and tokens included, past
        # redact_secrets) and took seconds of CPU per traceback in a loaded worker.
        else [
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
        ]
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_pre_chain(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            redact_secrets,
            *renderer,
        ],
    )


class LineHandler(logging.StreamHandler):
    """A StreamHandler writing each line, its newline included, in one write: the standard one
    writes the newline separately, so processes sharing one stderr (gunicorn's workers, a
    log pipe) can interleave another line between a line and its newline, and a Dramatiq
    worker process, whose stderr is a pipe to its parent, pays two pipe messages a line."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
            self.stream.write(line)
            self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def logging_config(*, json: bool, level: str) -> dict:
    """The LOGGING setting: everything through one handler and one structlog formatter."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structlog": {"()": formatter, "json": json}},
        "handlers": {"console": {"class": "core.logs.LineHandler", "formatter": "structlog"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # SQL with its parameters is logged at DEBUG: never let it through.
            "django.db.backends": {"level": "INFO"},
            # Each failed check is reported once by the readiness view, without a traceback.
            "health_check": {"level": "ERROR"},
            # One line per request is ours (RequestLogMiddleware): no duplicate from runserver.
            "django.server": {"level": "WARNING"},
        },
    }


def request_id_from(request: HttpRequest) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    if SANE_REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def bind_user(user) -> None:
    """Bind the acting user's id once it is known (the GraphQL view calls it after
    authentication). Nothing here loads a user that the request would not have loaded."""
    if user is not None and user.is_authenticated:
        structlog.contextvars.bind_contextvars(user_id=user.pk)


class RequestLogMiddleware:
    """First in MIDDLEWARE: binds a request id (X-Request-ID when the caller sends a sane
    one), returns it in the response's X-Request-ID, and logs one line per request with the
    method, the route, the status, the duration and the user, if the request loaded one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        structlog.contextvars.clear_contextvars()
        request_id = request_id_from(request)
        request.request_id = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        user = getattr(request, "user", None)
        if user is not None and getattr(user, "_wrapped", None) is not empty:
            bind_user(user)  # the user the view loaded, or who logged in during the request
        match = getattr(request, "resolver_match", None)
        logger.info(
            "request",
            method=request.method,
            path=request.path,
            route=match.route if match is not None else None,
            status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return response


def _forget_request(**kwargs) -> None:
    # After the response is sent (Django's own 4xx/5xx lines are written before this), so
    # that nothing logged later in this thread claims to belong to the request.
    structlog.contextvars.clear_contextvars()


request_finished.connect(_forget_request, dispatch_uid="core.logs.forget_request")
