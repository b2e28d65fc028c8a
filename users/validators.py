import zoneinfo
from functools import cache

from django.core.exceptions import ValidationError


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(value: str) -> None:
    if value not in _timezones():
        raise ValidationError(
            "%(value)s is not an IANA time zone name (e.g. Europe/Paris).",
            code="invalid_timezone",
            params={"value": value},
        )
