"""Schema extensions that bound what one request may ask for and what it may learn.

- Query limits (depth, aliases, tokens) refuse a document before anything runs.
- Introspection can be switched off by settings (GRAPHQL_INTROSPECTION).
- A READ-only API token cannot run mutations.
- Text with NUL characters is refused (PostgreSQL cannot store them; no one types them).
- Unexpected exceptions reach clients as "Internal error" when GRAPHQL_MASK_ERRORS is on.

Settings are read per request except the depth and alias limits, whose validation rules
are built once: the validation cache keys on the rule classes.
"""

from collections.abc import Iterator

from django.conf import settings
from graphql import ExecutionResult, GraphQLError, StringValueNode, ValidationRule
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.extensions.query_depth_limiter import IgnoreContext
from strawberry.relay.types import GlobalIDValueError
from strawberry.types.graphql import OperationType

from schema.auth import api_token
from schema.errors import ForbiddenError

INTERNAL_ERROR = "Internal error"
NUL_MESSAGE = "Text cannot contain NUL characters (\\u0000)."


class BadInputError(GraphQLError):
    def __init__(self, message: str, *nodes) -> None:
        super().__init__(message, list(nodes) or None, extensions={"code": "BAD_USER_INPUT"})


class NoNulCharacters(ValidationRule):
    """String literals in the document (variables are checked by RejectNulCharacters)."""

    def enter_string_value(self, node: StringValueNode, *_args) -> None:
        if "\x00" in node.value:
            self.report_error(BadInputError(NUL_MESSAGE, node))


def _is_introspection(context: IgnoreContext) -> bool:
    # The standard introspection query nests ofType deeper than any real query needs.
    return context.field_name.startswith("__")


_LIMIT_RULES = (
    *QueryDepthLimiter(
        max_depth=settings.GRAPHQL_MAX_DEPTH, should_ignore=_is_introspection
    ).validation_rules,
    *MaxAliasesLimiter(max_alias_count=settings.GRAPHQL_MAX_ALIASES).validation_rules,
    NoNulCharacters,
)
_LIMIT_RULES_NO_INTROSPECTION = (*_LIMIT_RULES, NoSchemaIntrospectionCustomRule)


class QueryLimits(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = settings.GRAPHQL_MAX_TOKENS
        rules = _LIMIT_RULES if settings.GRAPHQL_INTROSPECTION else _LIMIT_RULES_NO_INTROSPECTION
        context.validation_rules = (*context.validation_rules, *rules)
        yield


class ApiTokenScopes(SchemaExtension):
    """Mutations need the WRITE scope when the caller authenticated with an API token."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        token = api_token(context.context.request)
        if (
            token is not None
            and not token.can_write
            and context.operation_type is OperationType.MUTATION
        ):
            context.result = ExecutionResult(
                data=None,
                errors=[
                    ForbiddenError("This API token is read-only: mutations need the WRITE scope.")
                ],
            )
        yield


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


class RejectNulCharacters(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if not context.result and _holds_nul(context.variables):
            context.result = ExecutionResult(data=None, errors=[BadInputError(NUL_MESSAGE)])
        yield


def is_unexpected(error: GraphQLError) -> bool:
    """True for errors caused by a bug rather than by the request.

    Syntax, validation, variable and authorization errors are GraphQLErrors themselves or
    wrap a client's bad value (they point at a node of the document); anything else that
    escaped a resolver or an extension is ours, and its message may hold SQL or file paths.
    """
    if not settings.GRAPHQL_MASK_ERRORS:
        return False
    original = error.original_error
    if original is None or isinstance(original, GraphQLError | GlobalIDValueError):
        return False
    return error.path is not None or not error.nodes


def mask_errors() -> MaskErrors:
    return MaskErrors(should_mask_error=is_unexpected, error_message=INTERNAL_ERROR)


SECURITY_EXTENSIONS = [QueryLimits, ApiTokenScopes, RejectNulCharacters, mask_errors]
