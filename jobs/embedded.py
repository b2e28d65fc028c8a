"""Embedded mode (no REDIS_URL): the web process runs the worker and the dispatcher itself.
`manage.py runserver` (jobs/management/commands/runserver.py) starts them.

Dramatiq's StubBroker keeps messages in memory, so a restart loses them; the dispatcher's
first run after start-up treats every QUEUED or SENDING reminder as lost and wakes it again,
and the rows in the database make sure nothing else was lost.
"""

import logging
import threading

import dramatiq
from django.conf import settings
from django.db import close_old_connections
from dramatiq import Worker

import jobs.actors  # noqa: F401 - declares the actors on the broker the worker consumes
from core import health
from tasks.reminders.dispatch import reminder_dispatch
from webhooks.delivery import webhook_sweep
from webhooks.idempotency import idempotency_expire

logger = logging.getLogger(__name__)

DISPATCH_EVERY_SECONDS = 60
WORKER_TIMEOUT_MS = 100

_started = threading.Lock()


def enabled() -> bool:
    """Embedded mode: no REDIS_URL, and not turned off with REMINDERS_EMBEDDED=0."""
    return not settings.REDIS_URL and settings.REMINDERS_EMBEDDED


def start(*, threads: int = 2) -> Worker | None:
    """Start the in-process worker and the dispatcher thread, once per process."""
    if not _started.acquire(blocking=False):
        return None
    worker = Worker(dramatiq.get_broker(), worker_threads=threads, worker_timeout=WORKER_TIMEOUT_MS)
    worker.start()
    stop = threading.Event()
    threading.Thread(
        target=_dispatch_forever, args=(stop,), name="reminder-dispatcher", daemon=True
    ).start()
    logger.info("Embedded reminder worker and dispatcher started.")
    return worker


def _dispatch_forever(stop: threading.Event) -> None:
    restart = True
    while not stop.is_set():
        try:
            reminder_dispatch(restart=restart)
            webhook_sweep(restart=restart)
            idempotency_expire()
            restart = False
            health.beat(health.DISPATCHER)
        except Exception:
            # Typically the tables do not exist yet (before `migrate`): try again later.
            logger.exception("Reminder dispatcher run failed; next try in a minute.")
        finally:
            close_old_connections()
        stop.wait(DISPATCH_EVERY_SECONDS)
