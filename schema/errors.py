"""Errors: structured payload errors {field, message, code} and coded GraphQL errors.

Mutations report refused input in their payload's ``errors``. The one way there is
``payload_errors``: services (and resolvers, for input they decode themselves) raise Django's
``ValidationError``, and the decorator turns it into ``Payload(errors=[...])``:

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @payload_errors
    def thing_update(self, info: Info, id: relay.GlobalID, input: ThingInput) -> ThingPayload:
        return ThingPayload(thing=services.thing_update(...))

The payload class is the resolver's return annotation; it must take ``errors=`` alone.
A not-found is a ValidationError like any other (``raise not_found_error(field, message)``).
"""

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

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


def not_found(field: str = "id", message: str = "Task not found.") -> list[FieldError]:
    return [FieldError(field=field, message=message, code="not_found")]


def not_found_error(field: str = "id", message: str = "Task not found.") -> ValidationError:
    """The same refusal as an exception, for resolvers decorated with payload_errors."""
    return ValidationError({field: ValidationError(message, code="not_found")})


Resolver = TypeVar("Resolver", bound=Callable[..., Any])


def payload_errors(
    resolver: Resolver | None = None,
    *,
    convert: Callable[[ValidationError], list[FieldError]] = field_errors,
) -> Any:
    """Decorate a mutation resolver: a ValidationError it raises becomes its payload's errors.

    ``convert`` flattens the error (default ``field_errors``); pass another to spell some
    errors differently (e.g. with global IDs). Use bare (``@payload_errors``) or with options
    (``@payload_errors(convert=...)``), below ``@strawberry.mutation``.
    """
    if resolver is None:
        return functools.partial(payload_errors, convert=convert)
    payload = inspect.signature(resolver).return_annotation

    @functools.wraps(resolver)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return resolver(*args, **kwargs)
        except ValidationError as exc:
            return payload(errors=convert(exc))

    return wrapper


class AuthenticationError(GraphQLError):
    default_message = "Authentication required: log in first."

    def __init__(self, message: str = default_message) -> None:
        super().__init__(message, extensions={"code": "UNAUTHENTICATED"})


class ForbiddenError(GraphQLError):
    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "FORBIDDEN"})


class ArgumentError(GraphQLError):
    """An argument of a query refused; `code` as a mutation payload would carry it."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, extensions={"code": code})


NAIVE_DATETIME = "%s needs a UTC offset, e.g. 2030-01-31T09:00:00+01:00."


def refuse_naive(**moments) -> None:
    """Query arguments get the rule mutations apply: a moment without an offset is ambiguous."""
    for name, moment in moments.items():
        if moment is not None and moment.tzinfo is None:
            raise ArgumentError(NAIVE_DATETIME % to_camel_case(name), "naive_datetime")
