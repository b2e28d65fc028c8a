"""Structured errors for mutation payloads: {field, message, code}."""

import strawberry
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from graphql import GraphQLError
from strawberry.utils.str_converters import to_camel_case


@strawberry.type(description="Why a mutation refused its input.")
class FieldError:
    field: str | None = strawberry.field(
        description="The input field at fault (camelCase), or null when it is the whole input."
    )
    message: str
    code: str = strawberry.field(description="Stable machine-readable reason, e.g. `not_found`.")


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Flatten a Django ValidationError into payload errors, field names in camelCase."""
    if not hasattr(exc, "error_dict"):
        return [FieldError(field=None, message=m, code=c) for m, c in _messages(exc)]
    errors = []
    for name, error_list in exc.error_dict.items():
        field = None if name == NON_FIELD_ERRORS else to_camel_case(name)
        for error in error_list:
            errors.extend(FieldError(field=field, message=m, code=c) for m, c in _messages(error))
    return errors


def _messages(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for error in exc.error_list:
        message = error.message % error.params if error.params else error.message
        out.append((str(message), error.code or "invalid"))
    return out


def null_refused(input: object, names: tuple[str, ...]) -> list[FieldError]:
    """The error for the first of these input fields sent as null: they may be left out to
    keep their value, but not cleared."""
    for name in names:
        if getattr(input, name) is None:
            return [
                FieldError(
                    field=to_camel_case(name), message="This field cannot be null.", code="null"
                )
            ]
    return []


def not_found(field: str = "id", message: str = "Task not found.") -> list[FieldError]:
    return [FieldError(field=field, message=message, code="not_found")]


class AuthenticationError(GraphQLError):
    def __init__(self, message: str = "Authentication required: log in first.") -> None:
        super().__init__(message, extensions={"code": "UNAUTHENTICATED"})


class ForbiddenError(GraphQLError):
    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "FORBIDDEN"})
