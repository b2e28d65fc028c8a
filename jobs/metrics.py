"""Background work seen from outside: Dramatiq messages, reminder deliveries, reminders by state.

- ``Observability`` (a Dramatiq middleware, on every broker): counts messages processed,
  failed, skipped and retried and times them, by actor; binds the message id and actor to
  every log line the message's work writes. In a `rundramatiq` process with
  PROMETHEUS_MULTIPROC_DIR set it also forks a small exposition server on METRICS_PORT
  (9191), since the worker serves no HTTP of its own; the embedded worker's metrics are in
  the web process's /metrics.
- Reminder deliveries by outcome and their lateness: core.metrics (any layer observes them).
- ``RemindersByState``: read from the database at scrape time by the web's /metrics.
"""

import os
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import structlog
from django.db.models import Count
from django.utils import timezone
from dramatiq import Middleware
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from core.metrics import LATENCY_BUCKETS

MESSAGES = Counter(
    "taskgraph_dramatiq_messages_total",
    "Dramatiq messages handled, by actor and outcome (ok, failed, skipped).",
    ["actor", "outcome"],
)
RETRIES = Counter(
    "taskgraph_dramatiq_message_retries_total",
    "Dramatiq messages enqueued again for a retry, by actor.",
    ["actor"],
)
DURATION = Histogram(
    "taskgraph_dramatiq_message_duration_seconds",
    "Time spent processing Dramatiq messages, by actor.",
    ["actor"],
    buckets=LATENCY_BUCKETS,
)
# Claimable reminders due longer ago than this count as overdue (an alert: no worker, or a
# worker that cannot keep up).
OVERDUE_AFTER = timedelta(seconds=60)


class Observability(Middleware):
    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    @property
    def forks(self):
        return [serve_worker_metrics] if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else []

    def before_process_message(self, broker, message) -> None:
        self._started[message.message_id] = time.perf_counter()
        structlog.contextvars.bind_contextvars(
            message_id=message.message_id, actor=message.actor_name
        )

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        started = self._started.pop(message.message_id, None)
        if started is not None:
            DURATION.labels(message.actor_name).observe(time.perf_counter() - started)
        MESSAGES.labels(message.actor_name, "ok" if exception is None else "failed").inc()
        structlog.contextvars.unbind_contextvars("message_id", "actor")

    def after_skip_message(self, broker, message) -> None:
        self._started.pop(message.message_id, None)
        MESSAGES.labels(message.actor_name, "skipped").inc()
        structlog.contextvars.unbind_contextvars("message_id", "actor")

    def after_enqueue(self, broker, message, delay) -> None:
        if message.options.get("retries"):
            RETRIES.labels(message.actor_name).inc()


class RemindersByState:
    """Two indexed queries per scrape: counts by state, and claimable reminders overdue."""

    def collect(self):
        # Imported here: this module is loaded with the broker, before the models are.
        from tasks.models import Reminder, ReminderState

        counts = dict(Reminder.objects.order_by().values_list("state").annotate(n=Count("id")))
        by_state = GaugeMetricFamily(
            "taskgraph_reminders", "Reminders by state, read at scrape time.", labels=["state"]
        )
        for state in ReminderState.values:
            by_state.add_metric([state], counts.get(state, 0))
        yield by_state
        overdue = Reminder.objects.filter(
            state__in=(ReminderState.PENDING, ReminderState.QUEUED),
            due_at__lt=timezone.now() - OVERDUE_AFTER,
        ).count()
        yield GaugeMetricFamily(
            "taskgraph_reminders_overdue",
            f"Pending or queued reminders due more than {OVERDUE_AFTER.seconds} s ago.",
            value=overdue,
        )


class _MetricsHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        body = generate_latest(registry)
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:
        pass  # one line per scrape would drown the worker's log


def serve_worker_metrics() -> int:
    """A Dramatiq fork process: the worker processes' metrics on METRICS_PORT."""
    port = int(os.environ.get("METRICS_PORT", "9191"))
    ThreadingHTTPServer(("0.0.0.0", port), _MetricsHandler).serve_forever()
    return 0
