"""Raw SQL helpers for the state transitions that need UPDATE ... RETURNING."""

from collections.abc import Iterable
from datetime import UTC, datetime

from django.db import connection
from django.utils import timezone

from tasks.models import Reminder


def table() -> str:
    return connection.ops.quote_name(Reminder._meta.db_table)


def states(names: Iterable[str]) -> str:
    """An SQL list of state literals (our own constants, never user input)."""
    return ", ".join(f"'{name}'" for name in names)


def update_returning(sql: str, params: list) -> list[tuple]:
    params = [
        connection.ops.adapt_datetimefield_value(p) if isinstance(p, datetime) else p
        for p in params
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def aware(moment) -> datetime:
    """A moment read from a raw row: SQLite gives naive UTC datetimes (or strings on old
    drivers)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if timezone.is_naive(moment) else moment
