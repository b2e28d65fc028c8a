"""Outbound webhooks' side of jobs: the waker the domain calls after its commits."""

import time
from datetime import datetime

from jobs.actors import deliver_webhook


def wake_deliveries(wakes: list[tuple[int, datetime | None]]) -> None:
    """One message per delivery, delayed to its next attempt."""
    now_ms = time.time() * 1000
    for pk, at in wakes:
        delay = int(at.timestamp() * 1000 - now_ms) if at is not None else 0
        deliver_webhook.send_with_options(args=(pk,), delay=delay if delay > 0 else None)
