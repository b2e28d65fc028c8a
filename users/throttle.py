"""Login and registration throttling, kept in the Django cache.

With REDIS_URL (or CACHE_URL) set the cache is Redis, so every web process sees the same
counters and locks; without it each process counts on its own (development).

Failed logins count per account (the normalised email, whether or not it exists, so a lock
reveals nothing) and per client address. Reaching a limit locks that key for the window:
during the lock even the right password is refused.
"""

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
    now = time.time()
    until = max(cache.get_many(keys).values(), default=0)
    return max(0, int(until - now + 0.999))


def _count(limit: Limit, subject: str) -> None:
    key = _key("count", limit, subject)
    cache.add(key, 0, timeout=limit.window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=limit.window)
        count = 1
    if count >= limit.attempts:
        cache.set(_key("lock", limit, subject), time.time() + limit.window, timeout=limit.window)
        cache.delete(key)


def login_locked_for(*, email: str, address: str) -> int:
    account, by_address = _login_limits()
    return _locked_for([(account, email), (by_address, address)])


def login_failed(*, email: str, address: str) -> None:
    account, by_address = _login_limits()
    _count(account, email)
    _count(by_address, address)


def login_succeeded(*, email: str) -> None:
    """A right password forgives the account's earlier failures (not the address's)."""
    account, _ = _login_limits()
    cache.delete(_key("count", account, email))


def registration_locked_for(*, address: str) -> int:
    return _locked_for([(_registration_limit(), address)])


def registration_attempted(*, address: str) -> None:
    _count(_registration_limit(), address)
