"""The seam from webhook deliveries to background work, like tasks/reminders/wakeups.py.

``jobs`` registers the waker at start-up (``JobsConfig.ready``); the domain hands it, after the
commit, the deliveries to attempt and when. Without a waker nothing is lost: the sweep
(``webhooks.delivery.webhook_sweep``) wakes PENDING deliveries whose message never came.
"""

import logging
from collections.abc import Callable
from datetime import datetime

from django.db import transaction

logger = logging.getLogger(__name__)

# (delivery id, when: None for now)
Wake = tuple[int, datetime | None]
Waker = Callable[[list[Wake]], object]

_waker: Waker | None = None


def set_waker(waker: Waker | None) -> None:
    global _waker
    _waker = waker


def wake_after_commit(wakes: list[Wake]) -> None:
    if wakes:
        transaction.on_commit(lambda: wake_now(wakes))


def wake_now(wakes: list[Wake]) -> None:
    if _waker is None:
        logger.warning("No webhook waker registered; the sweep will wake %d.", len(wakes))
        return
    _waker(wakes)
