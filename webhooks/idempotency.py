"""``Idempotency-Key`` (the IETF httpapi draft): a request that carries the header runs at most
once per key and caller within ``IDEMPOTENCY_KEY_TTL_SECONDS``; repeats get the stored response.

The row is inserted, under a unique (user, key) constraint, before the request runs, so of two
identical requests arriving together exactly one inserts and runs; the other waits for its
response (up to ``IDEMPOTENCY_WAIT_SECONDS``), then replays it, or is told 409 "in progress".
A request that fails with a 5xx or an exception leaves no row: it may be retried. A row left
IN_PROGRESS by a process that died is taken over after ``IDEMPOTENCY_STALE_SECONDS``.
"""

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from users.models import User
from webhooks.models import IdempotencyKey, IdempotencyState

KEY_MAX_LENGTH = 255
POLL_SECONDS = 0.05


class IdempotencyError(Exception):
    def __init__(self, message: str, code: str, status: int) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


@dataclass(frozen=True)
class Stored:
    status_code: int
    content_type: str
    body: bytes


def key_check(key: str) -> str:
    if not key or len(key) > KEY_MAX_LENGTH or not all(33 <= ord(c) <= 126 for c in key):
        raise IdempotencyError(
            f"Idempotency-Key must be 1 to {KEY_MAX_LENGTH} printable ASCII characters"
            " without spaces (a UUID, for example).",
            "IDEMPOTENCY_KEY_INVALID",
            400,
        )
    return key


def fingerprint_of(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def idempotency_begin(*, user: User, key: str, fingerprint: str) -> Stored | None:
    """Claim the key for this request (None: go ahead and run it, then call
    ``idempotency_finish`` or ``idempotency_abandon``), or the stored response to replay.
    Raises IdempotencyError for a reused key (422) or one still running (409)."""
    deadline = time.monotonic() + settings.IDEMPOTENCY_WAIT_SECONDS
    while True:
        now = timezone.now()
        if _insert(user, key, fingerprint, now):
            return None
        row = IdempotencyKey.objects.filter(user=user, key=key).first()
        if row is None:  # finished with an error and removed meanwhile: try again
            continue
        if row.expires_at <= now:
            IdempotencyKey.objects.filter(pk=row.pk, expires_at__lte=now).delete()
            continue
        if row.fingerprint != fingerprint:
            raise IdempotencyError(
                "This Idempotency-Key was already used for a different request; use a new key"
                " for a new request.",
                "IDEMPOTENCY_KEY_REUSED",
                422,
            )
        if row.state == IdempotencyState.DONE:
            return Stored(row.status_code, row.content_type, bytes(row.body))
        stale = now - timedelta(seconds=settings.IDEMPOTENCY_STALE_SECONDS)
        if row.started_at <= stale and _take_over(row, now, stale):
            return None
        if time.monotonic() >= deadline:
            raise IdempotencyError(
                "A request with this Idempotency-Key is still running; retry in a moment.",
                "IDEMPOTENCY_KEY_IN_PROGRESS",
                409,
            )
        time.sleep(POLL_SECONDS)


def _insert(user: User, key: str, fingerprint: str, now: datetime) -> bool:
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(
                user=user,
                key=key,
                fingerprint=fingerprint,
                state=IdempotencyState.IN_PROGRESS,
                started_at=now,
                expires_at=now + timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS),
            )
    except IntegrityError:
        return False
    return True


def _take_over(row: IdempotencyKey, now: datetime, stale: datetime) -> bool:
    return bool(
        IdempotencyKey.objects.filter(
            pk=row.pk, state=IdempotencyState.IN_PROGRESS, started_at__lte=stale
        ).update(started_at=now)
    )


def idempotency_finish(*, user: User, key: str, stored: Stored) -> None:
    IdempotencyKey.objects.filter(user=user, key=key, state=IdempotencyState.IN_PROGRESS).update(
        state=IdempotencyState.DONE,
        status_code=stored.status_code,
        content_type=stored.content_type[:100],
        body=stored.body,
    )


def idempotency_abandon(*, user: User, key: str) -> None:
    """The request failed on our side: forget the key so that a retry runs it."""
    IdempotencyKey.objects.filter(user=user, key=key, state=IdempotencyState.IN_PROGRESS).delete()


def idempotency_expire(*, now: datetime | None = None) -> int:
    """Delete expired keys; returns how many."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
