"""Wake-up messages: one delayed Dramatiq message per due moment, not per reminder.

The message names no reminder: the actor claims whatever is due when it runs. So a thousand
reminders due in the same tenth of a second cost one message, the worker's in-memory delay
queue stays small whatever the number of reminders, and a message made stale by a reschedule,
a completion or a deletion claims nothing.

``wake_at`` is the domain's waker: ``JobsConfig.ready`` registers it with
``tasks.reminders.wakeups.set_waker``, and the domain calls it after its transactions commit.
"""

import logging
import math
import time
from collections.abc import Iterable
from datetime import datetime

from jobs.actors import deliver_due_reminders

logger = logging.getLogger(__name__)

# Moments are rounded up to this grain so that reminders due close together share a message.
SLOT_MS = 50


def wake_at(moments: Iterable[datetime]) -> int:
    """Send one wake-up for each distinct slot among these moments; returns how many were sent.

    Runs after a commit: the rows are the truth and a failed send must not turn a committed
    write into an error. A broker error is logged and the rest skipped (the broker is down);
    the dispatcher wakes those reminders once they are overdue (REMINDER_LOST_AFTER_SECONDS).
    """
    now_ms = int(time.time() * 1000)
    slots = sorted({math.ceil(m.timestamp() * 1000 / SLOT_MS) * SLOT_MS for m in moments})
    for sent, slot in enumerate(slots):
        delay = slot - now_ms
        try:
            deliver_due_reminders.send_with_options(
                args=(slot,), delay=delay if delay > 0 else None
            )
        except Exception as exc:
            logger.warning(
                "Could not send %d reminder wake-up(s) to the broker (%s: %s); the dispatcher "
                "will wake them.",
                len(slots) - sent,
                type(exc).__name__,
                exc,
            )
            return sent
    return len(slots)
