"""Every GraphQL error leaves with an `extensions.code`, and with no schema hints when
introspection is off.

Codes: the ones resolvers and extensions set themselves (UNAUTHENTICATED, FORBIDDEN,
BAD_USER_INPUT, ...) are kept. A value a scalar refused carries the scalar's own code, the one a
mutation payload would use (`out_of_range`, `invalid_id`). The rest are named by where they
arose: GRAPHQL_PARSE_FAILED (syntax), GRAPHQL_VALIDATION_FAILED (the document does not fit the
schema or its limits), BAD_USER_INPUT (a variable or argument value), INTERNAL_SERVER_ERROR
(a bug, masked as "Internal error").

Suggestions: strawberry's `disable_field_suggestions` covers only unknown fields; graphql-core
also appends "Did you mean ...?" to unknown arguments, enum values, input fields, types and
variable fields. With introspection off those would rebuild the schema it hides.
"""

import re
from collections.abc import Iterable

from graphql import GraphQLError
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.relay.types import GlobalIDValueError

from schema.limits import INTERNAL_ERROR

# " Did you mean 'a', 'b', or 'c'?" (names are quoted and hold no "?"), at the end of the
# message or before graphql-core's " Found: ..." detail.
_SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


class InputRefused(GraphQLError):
    """A scalar refused a value; `code` is what the client reads in the error's extensions.

    graphql-core reports a GraphQLError raised by a scalar as it is (literals) or wraps it as
    the original error (variables); either way the code survives.
    """

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, extensions={"code": code})


def _code(error: GraphQLError) -> str:
    original = error.original_error
    if isinstance(original, GraphQLError) and "code" in (original.extensions or {}):
        return original.extensions["code"]
    if error.message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if error.message == INTERNAL_ERROR:
        return "INTERNAL_SERVER_ERROR"
    if isinstance(original, GlobalIDValueError | StrawberryInputCoercionError):
        return "BAD_USER_INPUT"
    if isinstance(error, StrawberryInputCoercionError) or error.message.startswith(
        ("Variable '$", "Expected value of type")
    ):
        return "BAD_USER_INPUT"
    if error.path is None:
        return "GRAPHQL_VALIDATION_FAILED"
    # Raised while executing, with no code of its own: a value the API could not produce
    # (e.g. an enum member the schema does not know), or a bug shown unmasked in development.
    return "INTERNAL_SERVER_ERROR"


def finish(errors: Iterable[GraphQLError], *, suggestions: bool) -> None:
    """Give each error a code and, unless allowed, drop its suggestions (in place)."""
    for error in errors:
        if not suggestions and "Did you mean" in error.message:
            error.message = _SUGGESTION.sub("", error.message)
        extensions = error.extensions or {}
        if "code" not in extensions:
            error.extensions = {**extensions, "code": _code(error)}
