"""Schema extensions that bound what one request may ask for and what it may learn.

- Document limits (length, tokens, then depth, aliases and selections after expanding
  fragments, measured in one linear pass: schema.validation) refuse a document before
  graphql-core validates it, let alone runs it.
- Introspection can be switched off by settings (GRAPHQL_INTROSPECTION).
- A READ-only API token cannot run mutations.
- Text with NUL characters is refused (PostgreSQL cannot store them; no one types them).
- Unexpected exceptions reach clients as "Internal error" when GRAPHQL_MASK_ERRORS is on.

Settings are read per request.
"""

from collections.abc import Iterator
from functools import lru_cache

from django.conf import settings
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSyntaxError,
    StringValueNode,
    ValidationRule,
    parse,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.relay.types import GlobalIDValueError
from strawberry.schema.schema import validate_document
from strawberry.types.graphql import OperationType

from core.timeouts import is_timeout
from schema.auth import api_token
from schema.cost import QueryCost
from schema.errors import ForbiddenError
from schema.validation import LimitError, Limits, measure_document, timeout_error

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


# Repeated documents (every SPA sends the same few) skip parsing and validation. Module-level
# caches, shared by the per-request extension instances and bounded, so that unique
# documents cannot grow memory.
CACHE_SIZE = 256


@lru_cache(maxsize=CACHE_SIZE)
def _parse(query: str, max_tokens: int) -> DocumentNode:
    # Comments are tokens too for this limit: a megabyte of `#` lines is work for the lexer.
    return parse(query, max_lexical_tokens=max_tokens, max_comments=max_tokens)


_validate = lru_cache(maxsize=CACHE_SIZE)(validate_document)


def _coded_syntax_error(error: GraphQLSyntaxError, limit: int) -> GraphQLError:
    """The parser's own limits, answered with a code; other syntax errors as they are."""
    if error.message.startswith("Syntax Error: Document contains more than"):
        return LimitError(
            f"The document has more than {limit:,} tokens (comments included); the limit is "
            f"{limit:,}.",
            "TOO_MANY_TOKENS",
            limit=limit,
        )
    if error.message.startswith("Syntax Error: Document is nested too deeply."):
        return LimitError(
            "The document is nested too deeply to be parsed.", "QUERY_TOO_DEEP", error.nodes
        )
    return error


class DocumentLimits(SchemaExtension):
    """Parse and validate with the cheap limits first; each refusal costs time linear in
    what was read so far, whatever the document describes."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        rules = (NoNulCharacters,)
        if not settings.GRAPHQL_INTROSPECTION:
            rules = (*rules, NoSchemaIntrospectionCustomRule)
        context.validation_rules = (*context.validation_rules, *rules)
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if query is not None and context.graphql_document is None:
            limit = settings.GRAPHQL_MAX_DOCUMENT_LENGTH
            if len(query) > limit:
                raise LimitError(
                    f"The document is {len(query):,} characters long; the limit is {limit:,}.",
                    "QUERY_TOO_LARGE",
                    length=len(query),
                    limit=limit,
                )
            try:
                context.graphql_document = _parse(query, settings.GRAPHQL_MAX_TOKENS)
            except GraphQLSyntaxError as exc:
                raise _coded_syntax_error(exc, settings.GRAPHQL_MAX_TOKENS) from None
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        limits = Limits(
            max_depth=settings.GRAPHQL_MAX_DEPTH,
            max_aliases=settings.GRAPHQL_MAX_ALIASES,
            max_selections=settings.GRAPHQL_MAX_SELECTIONS,
        )
        errors = measure_document(context.graphql_document, limits)
        if not errors:
            errors = _validate(
                context.schema._schema, context.graphql_document, context.validation_rules
            )
        # Set, even when empty: strawberry then skips its own (uncached) validation.
        context.pre_execution_errors = errors
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


class TimeoutErrors(SchemaExtension):
    """A statement stopped by the request's database time limit (core.timeouts) becomes a
    TIMEOUT error for the field that ran it; the rest of the response stands."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        result.errors = [_timeout_error(error) for error in result.errors]


def _timeout_error(error: GraphQLError) -> GraphQLError:
    if not is_timeout(error.original_error):
        return error
    return timeout_error(error.nodes, error.path)


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
    if is_timeout(original):
        return False  # answered as TIMEOUT by TimeoutErrors
    return error.path is not None or not error.nodes


def mask_errors() -> MaskErrors:
    return MaskErrors(should_mask_error=is_unexpected, error_message=INTERNAL_ERROR)


# On the way out, extensions run last to first: TimeoutErrors rewrites before masking.
SECURITY_EXTENSIONS = [
    DocumentLimits,
    ApiTokenScopes,
    RejectNulCharacters,
    QueryCost,
    mask_errors,
    TimeoutErrors,
]
