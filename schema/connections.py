"""Connections whose paging arguments fail as GraphQL errors, not as Python exceptions.

Strawberry checks `first`, `last`, `before` and `after` deep in its slicing code and raises
ValueError or TypeError: a client's typo would then look like a bug (logged with a traceback,
masked as "Internal error" in production). The same checks run here first, with the same
messages, as GraphQL errors.
"""

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry import Info, relay
from strawberry.relay.utils import SliceMetadata
from strawberry_django.relay import DjangoListConnection

# The most items one page of a connection holds (the schema's relay_max_results).
PAGE_SIZE = 100


class PagingError(GraphQLError):
    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT"})


@strawberry.type(name="Connection", description="A connection to a list of items.")
class ListConnection(DjangoListConnection[relay.NodeType]):
    @classmethod
    def resolve_connection(
        cls,
        nodes: Any,
        *,
        info: Info,
        before: str | None = None,
        after: str | None = None,
        first: int | None = None,
        last: int | None = None,
        max_results: int | None = None,
        **kwargs: Any,
    ) -> Any:
        try:
            SliceMetadata.from_arguments(
                info, before=before, after=after, first=first, last=last, max_results=max_results
            )
        except (ValueError, TypeError) as exc:
            message = str(exc)
            if not message.startswith("Argument '"):  # undecodable cursor
                message = "Arguments 'before' and 'after' take cursors returned by this field."
            raise PagingError(message) from None
        return super().resolve_connection(
            nodes,
            info=info,
            before=before,
            after=after,
            first=first,
            last=last,
            max_results=max_results,
            **kwargs,
        )


def bounded_first(first: int | None, cap: int) -> int:
    """A list's `first` argument, checked like a connection's: at most `cap`, the default."""
    if first is None:
        return cap
    if first < 0:
        raise PagingError("Argument 'first' must be a non-negative integer.")
    if first > cap:
        raise PagingError(f"Argument 'first' cannot be higher than {cap}.")
    return first
