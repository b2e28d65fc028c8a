"""The reminder sweeper: every worker process checks the database itself, every
``REMINDER_SWEEP_SECONDS``, so that delivery does not depend on the broker.

Wake-up messages give each reminder its exact moment, but a broker outage loses them (Redis
without persistence, a consumer that drops its delayed messages on a connection error), and
the periodic dispatcher runs only once a minute, from a scheduler that needs the broker too.
Each sweep, in a thread of the worker process:

1. runs the dispatcher's recovery (``reminder_dispatch``): SENDING rows of a dead worker go back
   to QUEUED after ``REMINDER_STALE_SENDING_SECONDS``, lost wake-ups are sent again;
2. sends, straight from this thread, whatever is still claimable
   ``REMINDER_SWEEP_GRACE_SECONDS`` after it was due (its wake-up was lost or is late), batch
   after batch, for up to one sweep period.

Every step is a conditional UPDATE, so sweepers in many processes and the dispatcher never
take the same row twice. The cost when all is well: one dispatcher run (three indexed UPDATEs
that change nothing) and one claim that finds nothing, per process every few seconds.
"""

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from dramatiq.middleware import Middleware

from jobs.emails import reminder_email
from tasks.reminders.delivery import deliver_batch
from tasks.reminders.dispatch import reminder_dispatch

logger = logging.getLogger(__name__)


def sweep() -> dict:
    """One sweep; returns what it did."""
    woken = reminder_dispatch()
    sent = batches = 0
    started = time.monotonic()
    while time.monotonic() - started < settings.REMINDER_SWEEP_SECONDS:
        overdue = timezone.now() - timedelta(seconds=settings.REMINDER_SWEEP_GRACE_SECONDS)
        counts = deliver_batch(
            limit=settings.REMINDER_BATCH_SIZE, compose=reminder_email, due_before=overdue
        )
        batches += 1
        sent += counts["sent"]
        if counts["claimed"] < settings.REMINDER_BATCH_SIZE:
            break
    return {"woken": woken, "sent": sent, "batches": batches}


class ReminderSweeper(Middleware):
    """Runs ``sweep`` in each worker process, from boot to shutdown."""

    def __init__(self) -> None:
        self.stops: dict[object, threading.Event] = {}

    def after_worker_boot(self, broker, worker) -> None:
        stop = self.stops[worker] = threading.Event()
        threading.Thread(
            target=self._run, args=(stop,), name="reminder-sweeper", daemon=True
        ).start()

    def before_worker_shutdown(self, broker, worker) -> None:
        stop = self.stops.pop(worker, None)
        if stop is not None:
            stop.set()

    @staticmethod
    def _run(stop: threading.Event) -> None:
        while not stop.wait(settings.REMINDER_SWEEP_SECONDS):
            try:
                done = sweep()
                if done["woken"] or done["sent"]:
                    logger.info(
                        "Reminder sweep: %(woken)d woken, %(sent)d sent by the sweeper.", done
                    )
            except Exception:
                # The database is down or restarting: the next sweep tries again.
                logger.exception("Reminder sweep failed.")
            finally:
                close_old_connections()
