"""'Not given' in inputs: one convention.

An optional input field that may be left out defaults to ``strawberry.UNSET`` (the only
default strawberry prints as "no default" in the SDL). Services, which may not import
strawberry, take keyword arguments whose default is ``core.unset.UNSET``. The two meet only
here: ``given`` passes a service exactly the fields the client sent, so no resolver compares
against either marker and no strawberry value reaches the domain.
"""

from typing import Any

import strawberry
from django.core.exceptions import ValidationError


def given(input: object, *names: str, not_null: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields among ``names`` that the client sent, by name (null included).

    The fields in ``not_null`` may be left out to keep their value, but not cleared: the
    first sent as null is refused (``null``).
    """
    sent = {
        name: value for name in names if (value := getattr(input, name)) is not strawberry.UNSET
    }
    for name in not_null:
        if name in sent and sent[name] is None:
            raise ValidationError(
                {name: ValidationError("This field cannot be null.", code="null")}
            )
    return sent
