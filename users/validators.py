import zoneinfo
from functools import cache

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, validate_email

# The User.email column (EmailField's default length). Django's validate_email accepts up to
# 320 characters: longer than the column, a DataError on PostgreSQL.
EMAIL_MAX_LENGTH = 254


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_email_address(value: str) -> None:
    """An address the User.email column can hold."""
    validate_email(value)
    MaxLengthValidator(EMAIL_MAX_LENGTH)(value)


def validate_timezone(value: str) -> None:
    if not value:
        # As the model field says it (userUpdate); "  is not an IANA ..." named nothing.
        raise ValidationError("This field cannot be blank.", code="blank")
    if value not in _timezones():
        raise ValidationError(
            "%(value)s is not an IANA time zone name (e.g. Europe/Paris).",
            code="invalid_timezone",
            params={"value": value},
        )
