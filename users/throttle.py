"""Login and registration throttling, kept in the Django cache.

With REDIS_URL (or CACHE_URL) set the cache is Redis, so every web process sees the same
counters and locks; without it each process counts on its own (development).

Exact under concurrency: an attempt is counted (an atomic increment in the cache) BEFORE the
password is checked, and only the first N attempts of a window go on to the check. Checking
first and counting the failure afterwards lets every attempt that arrives before the first
failure is recorded through: 20 parallel guesses made 17 password checks against a limit of 5.

Login attempts count per account (the normalised email, whether or not it exists, so a lock
reveals nothing) and per client address. Past a limit that key is locked for the window:
during the lock even the right password is refused. A right password forgives the account's
earlier failures and takes its own attempt back from the address's count.
"""

import contextlib
import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    attempts: int
    window: int  # seconds


def _login_limits() -> tuple[Limit, Limit]:
    return (
        Limit("login-account", settings.THROTTLE_LOGIN_ACCOUNT_FAILURES, settings.THROTTLE_WINDOW),
        Limit("login-address", settings.THROTTLE_LOGIN_ADDRESS_FAILURES, settings.THROTTLE_WINDOW),
    )


def _registration_limit() -> Limit:
    return Limit(
        "register-address", settings.THROTTLE_REGISTRATIONS, settings.THROTTLE_REGISTRATION_WINDOW
    )


def _key(kind: str, limit: Limit, subject: str) -> str:
    # Hashed: emails and addresses are personal data and may hold characters memcached refuses.
    return f"throttle:{limit.name}:{kind}:{hashlib.sha256(subject.encode()).hexdigest()[:32]}"


def _locked_for(pairs: list[tuple[Limit, str]]) -> int:
    """Seconds until every lock among these (limit, subject) pairs has expired; 0 if none."""
    keys = [_key("lock", limit, subject) for limit, subject in pairs]
    until = max(cache.get_many(keys).values(), default=0)
    return max(0, int(until - time.time() + 0.999))


def _increment(limit: Limit, subject: str) -> int:
    """Count one attempt atomically; the count within the window, this attempt included."""
    key = _key("count", limit, subject)
    for _ in range(3):
        cache.add(key, 0, timeout=limit.window)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr: start the window again
            continue
        if count == 1:
            # Redis INCR on a key that expired after the backend's existence check creates
            # it without a time to live: make sure the window ends.
            cache.touch(key, limit.window)
        return count
    raise RuntimeError(f"the cache keeps losing {key}")


def _lock(limit: Limit, subject: str) -> None:
    # add, not set: a lock already running keeps its end.
    cache.add(_key("lock", limit, subject), time.time() + limit.window, timeout=limit.window)


def _attempt(pairs: list[tuple[Limit, str]]) -> int:
    """Count an attempt against every limit; 0 if it may proceed, else seconds locked."""
    if locked := _locked_for(pairs):
        return locked
    over = [
        (limit, subject) for limit, subject in pairs if _increment(limit, subject) > limit.attempts
    ]
    for limit, subject in over:
        _lock(limit, subject)
    return _locked_for(over) or (1 if over else 0)


def login_attempt(*, email: str, address: str) -> int:
    """Call before checking a password: 0 to go on and check it, else seconds locked (do not
    check it). Every attempt let through counts as a failure until `login_succeeded`."""
    account, by_address = _login_limits()
    return _attempt([(account, email), (by_address, address)])


def login_succeeded(*, email: str, address: str) -> None:
    """A right password forgives the account's earlier failures and is not a failure of the
    address."""
    account, by_address = _login_limits()
    cache.delete(_key("count", account, email))
    with contextlib.suppress(ValueError):  # the window ended meanwhile
        cache.decr(_key("count", by_address, address))


def registration_attempt(*, address: str) -> int:
    """Call before registering: 0 to go on, else seconds locked."""
    return _attempt([(_registration_limit(), address)])


def login_forgive(*, email: str) -> None:
    """The account's owner proved themselves another way (a password reset link)."""
    account, _ = _login_limits()
    cache.delete(_key("count", account, email))
    cache.delete(_key("lock", account, email))


def verification_attempt(*, user_pk: int) -> int:
    """Call before sending a verification email again: 0 to go on, else seconds locked."""
    limit = Limit(
        "verify-email", settings.THROTTLE_VERIFICATION_EMAILS, settings.THROTTLE_EMAIL_WINDOW
    )
    return _attempt([(limit, str(user_pk))])


def password_reset_attempt(*, email: str, address: str) -> int:
    """Call before sending a password reset email: 0 to go on, else seconds locked. Counted per
    address asked for (whether or not it has an account) and per client address."""
    window = settings.THROTTLE_EMAIL_WINDOW
    return _attempt(
        [
            (Limit("reset-account", settings.THROTTLE_PASSWORD_RESETS, window), email),
            (Limit("reset-address", settings.THROTTLE_PASSWORD_RESETS * 5, window), address),
        ]
    )


def message(what: str, seconds: int) -> str:
    minutes = max(1, (seconds + 59) // 60)
    return f"{what} Try again in {minutes} minute{'' if minutes == 1 else 's'}."
