"""The one place that decides which Dramatiq broker the project uses.

django_dramatiq builds the broker from ``DRAMATIQ_BROKER`` and calls ``dramatiq.set_broker``
while Django loads its apps (it is first in INSTALLED_APPS), before any actor module can be
imported. Without REDIS_URL the broker is Dramatiq's in-process StubBroker, which the embedded
worker consumes in the web process.
"""

# Listed explicitly: django_dramatiq's default list names dramatiq.middleware.Prometheus,
# which Dramatiq 2 moved behind an extra.
MIDDLEWARE = [
    "dramatiq.middleware.AgeLimit",
    "dramatiq.middleware.TimeLimit",
    "dramatiq.middleware.ShutdownNotifications",
    "dramatiq.middleware.Callbacks",
    "dramatiq.middleware.Pipelines",
    "dramatiq.middleware.Retries",
    "dramatiq.middleware.CurrentMessage",
    "periodiq.PeriodiqMiddleware",
    "django_dramatiq.middleware.DbConnectionsMiddleware",
    # Issue 13: heartbeats for the readiness check; metrics and log context per message.
    "jobs.heartbeat.Heartbeat",
    "jobs.metrics.Observability",
    # A worker process whose consumer or worker thread died exits (issue 14).
    "core.worker_watchdog.ThreadWatchdog",
    # Start-up objects out of the cyclic collector's walks, fewer young collections.
    "core.worker_gc.FrozenStartup",
]


def broker_settings(redis_url: str) -> dict:
    if redis_url:
        return {
            # Dramatiq's, with its consumer threads surviving a Redis outage (issue 14).
            "BROKER": "core.redis_broker.RedisBroker",
            "OPTIONS": {"url": redis_url},
            "MIDDLEWARE": MIDDLEWARE,
        }
    return {
        "BROKER": "dramatiq.brokers.stub.StubBroker",
        "OPTIONS": {},
        "MIDDLEWARE": MIDDLEWARE,
    }
