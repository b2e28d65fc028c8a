"""Wake-up messages: one delayed Dramatiq message per due moment, not per reminder.

The message names no reminder: the actor claims whatever is due when it runs. So a thousand
reminders due in the same tenth of a second cost one message, the worker's in-memory delay
queue stays small whatever the number of reminders, and a message made stale by a reschedule,
a completion or a deletion claims nothing.

``wake_at`` is the domain's waker: ``JobsConfig.ready`` registers it with
``tasks.reminders.wakeups.set_waker``, and the domain calls it after its transactions commit.
"""

import math
import time
from collections.abc import Iterable
from datetime import datetime

from jobs.actors import deliver_due_reminders

# Moments are rounded up to this grain so that reminders due close together share a message.
SLOT_MS = 50


def wake_at(moments: Iterable[datetime]) -> int:
    """Send one wake-up for each distinct slot among these moments; returns how many."""
    now_ms = int(time.time() * 1000)
    slots = {math.ceil(moment.timestamp() * 1000 / SLOT_MS) * SLOT_MS for moment in moments}
    for slot in sorted(slots):
        delay = slot - now_ms
        deliver_due_reminders.send_with_options(args=(slot,), delay=delay if delay > 0 else None)
    return len(slots)
