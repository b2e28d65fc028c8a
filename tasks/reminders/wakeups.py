"""The one seam from reminders to background work: due moments, handed over after the commit.

The domain does not know the broker. The jobs app registers the function that sends wake-up
messages (``jobs.wakeups.wake_at``) when Django starts (``JobsConfig.ready``), so imports run one
way only: jobs imports tasks, never the reverse. Without a registered waker (the jobs app not
installed) nothing is sent and nothing is lost: the periodic dispatcher wakes QUEUED rows whose
message never came (``REMINDER_LOST_AFTER_SECONDS``).
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

Waker = Callable[[list[datetime]], object]

_waker: Waker | None = None


def set_waker(waker: Waker | None) -> None:
    """Register the function that wakes a worker at each of the given moments."""
    global _waker
    _waker = waker


def horizon(now: datetime) -> datetime:
    """Reminders due up to this moment get a wake-up message; later ones wait for the
    dispatcher."""
    return now + timedelta(seconds=settings.REMINDER_HORIZON_SECONDS)


def wake_after_commit(moments: list[datetime]) -> None:
    """Once the current transaction commits, wake a worker at each moment (none if it rolls
    back: the rows it would have woken were never written)."""
    if moments:
        transaction.on_commit(lambda: _wake(moments))


def _wake(moments: list[datetime]) -> None:
    if _waker is None:
        logger.warning("No reminder waker registered; the dispatcher will wake %d.", len(moments))
        return
    _waker(moments)
