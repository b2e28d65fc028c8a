"""A Dramatiq middleware that leaves the heartbeats the readiness check reads (core.health).

- Every worker (a `rundramatiq` process or the embedded one) beats every few seconds from a
  thread of its own while it runs.
- The scheduler beats each time it enqueues a periodic message (periodiq marks them with
  ``scheduled_at``; it sends the dispatcher's every minute, and nothing else sends them).
"""

import logging
import threading

from django.conf import settings
from dramatiq import Middleware

from core import health

logger = logging.getLogger(__name__)


class Heartbeat(Middleware):
    def __init__(self) -> None:
        self._stops: dict[int, threading.Event] = {}
        self._failing: set[str] = set()

    def after_worker_boot(self, broker, worker) -> None:
        stop = threading.Event()
        self._stops[id(worker)] = stop
        threading.Thread(
            target=self._beat_until, args=(stop,), name="worker-heartbeat", daemon=True
        ).start()

    def before_worker_shutdown(self, broker, worker) -> None:
        stop = self._stops.pop(id(worker), None)
        if stop is not None:
            stop.set()

    def after_enqueue(self, broker, message, delay) -> None:
        if "scheduled_at" in message.options:
            self._beat(health.SCHEDULER)

    def _beat_until(self, stop: threading.Event) -> None:
        while True:
            self._beat(health.WORKER)
            if stop.wait(settings.HEALTH_HEARTBEAT_SECONDS):
                return

    def _beat(self, name: str) -> None:
        try:
            health.beat(name)
        except Exception:
            # The cache is down: readiness says so through its own check; keep working, and
            # say it once per outage rather than every beat.
            if name not in self._failing:
                self._failing.add(name)
                logger.warning("Could not record the %s heartbeat.", name, exc_info=True)
            return
        if name in self._failing:
            self._failing.discard(name)
            logger.info("Recording the %s heartbeat again.", name)
