"""Prometheus metrics: HTTP requests, GraphQL operations, reminder deliveries, /metrics.

Multi-process safe: with PROMETHEUS_MULTIPROC_DIR set before start (gunicorn, the Dramatiq
worker) every process writes its samples to files there and a scrape adds them up;
gunicorn.conf.py empties the directory at start. Without it (runserver, tests) metrics live in
the process, which is where the embedded worker runs too.

/metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset, it answers 404 (or,
with DEBUG, anyone). Collectors that read the database at scrape time (METRICS_COLLECTORS,
reminders by state) run only there, once per scrape.
"""

import hmac
import os
import re
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Every process that defines a metric writes there (migrate and manage.py too).
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

HTTP_REQUESTS = Counter(
    "taskgraph_http_requests_total",
    "HTTP requests answered, by method, URL route and status code.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "taskgraph_http_request_duration_seconds",
    "Time from the first middleware to the response, by method and URL route.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
GRAPHQL_OPERATIONS = Counter(
    "taskgraph_graphql_operations_total",
    "GraphQL operations executed, by operation name, type and outcome (ok, error).",
    ["operation", "type", "outcome"],
)
GRAPHQL_DURATION = Histogram(
    "taskgraph_graphql_operation_duration_seconds",
    "GraphQL operation time (parse, validate, execute), by operation name.",
    ["operation"],
    buckets=LATENCY_BUCKETS,
)
GRAPHQL_COST = Histogram(
    "taskgraph_graphql_operation_cost",
    "Static query cost of GraphQL operations, by operation name (when the cost is computed).",
    ["operation"],
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
)

DELIVERIES = Counter(
    "taskgraph_reminder_deliveries_total",
    "Reminder delivery attempts by outcome (sent, retrying, failed, released).",
    ["outcome"],
)
LATENESS = Histogram(
    "taskgraph_reminder_lateness_seconds",
    "How long after its due time a reminder was handed to the email provider.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600),
)

# Operation names come from clients: only identifiers, and at most this many distinct ones
# per process, so that nobody can blow up the number of series.
OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_OPERATION_NAMES = 200
_operation_names: set[str] = set()
_operation_names_lock = threading.Lock()


def operation_label(name: str | None) -> str:
    if not name:
        return "anonymous"
    if not OPERATION_NAME.fullmatch(name):
        return "invalid"
    if name in _operation_names:
        return name
    with _operation_names_lock:
        if len(_operation_names) >= MAX_OPERATION_NAMES:
            return "other"
        _operation_names.add(name)
    return name


def is_multiprocess() -> bool:
    # prometheus-client's own test, made when it is imported (the variable is set before start).
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class MetricsMiddleware:
    """Counts and times every request by its URL route (a bounded set), not its path."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None else "unmatched"
        HTTP_DURATION.labels(request.method, route).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        return response


def _scrape_time_collectors() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    for path in settings.METRICS_COLLECTORS:
        registry.register(import_string(path)())
    return registry


def exposition() -> bytes:
    """Every process's samples (or this process's), then the scrape-time collectors."""
    if is_multiprocess():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(_scrape_time_collectors())


def _authorized(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return settings.DEBUG
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


def metrics(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        raise Http404
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
