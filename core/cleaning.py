"""Validate several input fields at once, so a refusal names every field at fault."""

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError


def clean_fields(
    values: Mapping[str, Any], cleaners: Mapping[str, Callable[[Any], Any]]
) -> dict[str, Any]:
    """Each given value through its field's cleaner; one ValidationError with every field's
    errors if any cleaner refused its value."""
    errors: dict[str, list[ValidationError]] = {}
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        try:
            cleaned[name] = cleaners[name](value)
        except ValidationError as exc:
            errors[name] = exc.error_list
    if errors:
        raise ValidationError(errors)
    return cleaned
