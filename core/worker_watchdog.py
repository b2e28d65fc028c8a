"""A worker process whose consumer or worker thread died exits, loudly, so that its supervisor
restarts it.

Dramatiq runs every queue's consumer and every worker in a thread of the worker process; a
thread that ends on an exception leaves the process up, its heartbeat beating, and its queue
(or its delayed messages) unserved for good. The watchdog checks the threads every second and
ends the process with ``EXIT_CODE``; the ``dramatiq`` master (what ``rundramatiq`` runs) then
stops the other worker processes and exits with the same code, and the supervisor (compose's
``restart:``, systemd, Kubernetes) starts it again. The embedded worker (StubBroker, inside
``runserver``) is only logged: ending the web server is worse than a dead thread there.
"""

import logging
import os
import sys
import threading

from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware

logger = logging.getLogger(__name__)

# EX_SOFTWARE from sysexits.h: an internal error; distinct from Dramatiq's own codes 1-4.
EXIT_CODE = 70


def dead_threads(worker) -> list[threading.Thread]:
    """Consumer and worker threads that were started, were not told to stop, and ended."""
    threads = [*list(worker.consumers.values()), *worker.workers]
    return [thread for thread in threads if thread.running and not thread.is_alive()]


class ThreadWatchdog(Middleware):
    def __init__(self, *, interval: float = 1.0) -> None:
        self.interval = interval
        self.stops: dict[object, threading.Event] = {}

    def after_worker_boot(self, broker, worker) -> None:
        stop = self.stops[worker] = threading.Event()
        threading.Thread(
            target=self._watch, args=(broker, worker, stop), name="thread-watchdog", daemon=True
        ).start()

    def before_worker_shutdown(self, broker, worker) -> None:
        stop = self.stops.pop(worker, None)
        if stop is not None:
            stop.set()

    def _watch(self, broker, worker, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            dead = dead_threads(worker)
            if not dead or stop.is_set():
                continue
            names = ", ".join(_describe(thread) for thread in dead)
            if isinstance(broker, StubBroker):
                logger.error("Dramatiq threads died in the embedded worker: %s.", names)
                return
            logger.critical(
                "Dramatiq threads died: %s. Exiting with code %d so that the supervisor "
                "restarts this worker.",
                names,
                EXIT_CODE,
            )
            for handler in logging.getLogger().handlers:
                handler.flush()
            sys.stderr.flush()
            os._exit(EXIT_CODE)


def _describe(thread: threading.Thread) -> str:
    queue = getattr(thread, "queue_name", None)
    return f"consumer of {queue!r}" if queue else thread.name
