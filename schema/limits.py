"""Schema extensions that bound what one request may ask for and what it may learn.

- Query limits (depth, aliases, tokens) refuse a document before anything runs.
- Introspection can be switched off by settings (GRAPHQL_INTROSPECTION).
- A READ-only API token cannot run mutations.
- Unexpected exceptions reach clients as "Internal error" when GRAPHQL_MASK_ERRORS is on.

Settings are read per request except the depth and alias limits, whose validation rules
are built once: the validation cache keys on the rule classes.
"""

from collections.abc import Iterator

from django.conf import settings
from graphql import ExecutionResult, GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.extensions.query_depth_limiter import IgnoreContext
from strawberry.relay.types import GlobalIDValueError
from strawberry.types.graphql import OperationType

from schema.auth import api_token
from schema.errors import ForbiddenError

INTERNAL_ERROR = "Internal error"


def _is_introspection(context: IgnoreContext) -> bool:
    # The standard introspection query nests ofType deeper than any real query needs.
    return context.field_name.startswith("__")


_LIMIT_RULES = (
    *QueryDepthLimiter(
        max_depth=settings.GRAPHQL_MAX_DEPTH, should_ignore=_is_introspection
    ).validation_rules,
    *MaxAliasesLimiter(max_alias_count=settings.GRAPHQL_MAX_ALIASES).validation_rules,
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


SECURITY_EXTENSIONS = [QueryLimits, ApiTokenScopes, mask_errors]
