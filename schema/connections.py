"""Connections whose paging arguments fail as GraphQL errors, not as Python exceptions.

Strawberry checks `first`, `last`, `before` and `after` deep in its slicing code and raises
ValueError or TypeError: a client's typo would then look like a bug (logged with a traceback,
masked as "Internal error" in production). The same checks run here first, with the same
messages, as GraphQL errors.
"""

import json
from datetime import date
from typing import Any, ClassVar, Generic

import strawberry
from django.db.models import Count, Q, Subquery, Value, Window
from graphql import GraphQLError
from strawberry import Info, relay
from strawberry.relay.utils import should_resolve_list_connection_edges
from strawberry.types.field import StrawberryField
from strawberry_django.fields.field import StrawberryDjangoConnectionExtension
from strawberry_django.optimizer import is_optimized_by_prefetching
from strawberry_django.pagination import get_total_count
from strawberry_django.queryset import get_queryset_config
from strawberry_django.relay import DjangoCursorConnection
from strawberry_django.relay.cursor_connection import (
    DjangoCursorEdge,
    OrderedCollectionCursor,
    OrderingDescriptor,
    annotate_ordering_fields,
    build_tuple_compare,
)

NOT_A_CURSOR = "Arguments 'before' and 'after' take cursors returned by this field."

# The most items one page of a connection holds (the schema's relay_max_results).
PAGE_SIZE = 100


class PagingError(GraphQLError):
    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT"})


def check_size(name: str, value: int | None, cap: int) -> None:
    """A size argument (`first`, `last`): refused, never clamped, when negative or above
    `cap`. Every list and connection of the schema answers with these messages and code."""
    if value is None:
        return
    if value < 0:
        raise PagingError(f"Argument '{name}' must be a non-negative integer.")
    if value > cap:
        raise PagingError(f"Argument '{name}' cannot be higher than {cap}.")


def check_length(name: str, items: list, cap: int) -> None:
    """A list argument holds at most `cap` items: more is refused like a size above its cap."""
    if len(items) > cap:
        raise PagingError(f"Argument '{name}' cannot hold more than {cap} items.")


def bounded_first(first: int | None, cap: int) -> int:
    """A list's `first` argument, checked like a connection's: at most `cap`, the default."""
    check_size("first", first, cap)
    return cap if first is None else first


# Keyset pagination (issue 11). A cursor holds the row's values of the sort keys and its id, and
# the next page is "rows after these values" in SQL: inserting or deleting rows between two page
# reads neither repeats nor skips a row that existed throughout, in either direction. NULLs are
# placed where the ordering puts them (scheduledAt: last in both directions).

TOTAL_COUNT = "_connection_total_count"


def _selects(info: Info, name: str) -> bool:
    """Whether the connection's selection asks for this field (through fragments too)."""

    def walk(selections) -> bool:
        for selection in selections:
            if getattr(selection, "name", None) == name:
                return True
            if not hasattr(selection, "alias") and walk(selection.selections):
                return True  # an inline fragment or fragment spread
        return False

    return any(walk(field.selections) for field in info.selected_fields)


def _check_paging(*, first, last, max_results: int) -> None:
    check_size("first", first, max_results)
    check_size("last", last, max_results)
    if last is not None and first is not None:
        raise PagingError("Pass 'first' or 'last', not both.")


def _after_cursors(descriptors: list[OrderingDescriptor], *, before, after) -> Q:
    """The rows after `after` and before `before`, as one condition on the sort values."""
    condition = Q()
    for cursor, is_before in ((before, True), (after, False)):
        if cursor is None:
            continue
        try:
            values = OrderedCollectionCursor.from_cursor(cursor, descriptors).field_values
        except (ValueError, TypeError):
            raise PagingError(NOT_A_CURSOR) from None
        condition &= build_tuple_compare(descriptors, values, is_before)
        bound = _leading_bound(descriptors[0], values[0], before=is_before)
        if bound is not None:
            condition &= bound
    return condition


def _leading_bound(descriptor: OrderingDescriptor, value: Any, *, before: bool) -> Q | None:
    """A redundant range on the first sort key, so that the database seeks to the cursor in
    an index on that key instead of reading and discarding every row before it."""
    if value is None:
        return None
    lookup = "lte" if before ^ descriptor.order_by.descending else "gte"
    bound = Q((f"{descriptor.attname}__{lookup}", value))
    if descriptor.maybe_null and bool(descriptor.order_by.nulls_first) == before:
        bound |= Q((f"{descriptor.attname}__isnull", True))
    return bound


def keyset_cursor(row: Any, descriptors: list[OrderingDescriptor]) -> str:
    """The row's cursor: its sort values, as strawberry-django's cursors spell them (ISO 8601
    for times, str() for the rest), so that its decoder reads them back."""
    values = []
    for descriptor in descriptors:
        value = getattr(row, descriptor.attname)
        if value is not None:
            value = value.isoformat() if isinstance(value, date) else str(value)
        values.append(value)
    return relay.to_base64(
        DjangoCursorEdge.CURSOR_PREFIX, json.dumps(values, separators=(",", ":"))
    )


@strawberry.type(name="Edge", description="One item of a page, with its cursor.")
class CursorEdge(Generic[relay.NodeType]):
    node: relay.NodeType = strawberry.field(description="The item.")
    row: strawberry.Private[Any]
    descriptors: strawberry.Private[list[OrderingDescriptor]]

    @strawberry.field(
        description="This item's place in the order: pass it as `after` (or `before`) to read "
        "the items that follow (or precede) it."
    )
    def cursor(self) -> str:
        # Built on demand: most lists ask for pageInfo, not for every edge's cursor.
        return keyset_cursor(self.row, self.descriptors)


@strawberry.type(
    name="Connection",
    description="A page of a list. Cursors hold the item's sort values, so a page read after "
    "rows were added or removed starts exactly where the previous page ended.",
)
class CursorConnection(DjangoCursorConnection[relay.NodeType]):
    edges: list[CursorEdge[relay.NodeType]] = strawberry.field(
        description="The items of this page, in order."
    )

    @strawberry.field(description="How many items the list holds, across all its pages.")
    def total_count(self) -> int:
        if self.edges:
            counted = getattr(self.edges[0].node, TOTAL_COUNT, None)
            if counted is not None:
                return counted
        return get_total_count(self.total_count_qs)

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
        if max_results is None:
            max_results = info.schema.config.relay_max_results
        _check_paging(first=first, last=last, max_results=max_results)
        if first is None and last is None:
            first = max_results
        prefetched = is_optimized_by_prefetching(nodes)
        if prefetched:
            # A nested connection the optimizer already fetched for every parent at once,
            # with these arguments (one row more than the page).
            page, descriptors = nodes, get_queryset_config(nodes).ordering_descriptors
        else:
            page, descriptors, _ = annotate_ordering_fields(nodes)
            condition = _after_cursors(descriptors, before=before, after=after)
            if _selects(info, "totalCount"):
                # The count rides along in the page's query instead of a second round trip: a
                # window over the whole list when no cursor narrows it, else an uncorrelated
                # subquery (computed once).
                if not condition:
                    counted = Window(Count(1), partition_by=None)
                else:
                    count = nodes.order_by().annotate(_one=Value(1)).values("_one")
                    counted = Subquery(count.annotate(n=Count("*")).values("n"))
                page = page.annotate(**{TOTAL_COUNT: counted})
            if condition:
                page = page.filter(condition)
            if last is not None:
                page = page.reverse()
            page = page[: (first if last is None else last) + 1]
        if not should_resolve_list_connection_edges(info):
            no_page = relay.PageInfo(
                start_cursor=None, end_cursor=None, has_previous_page=False, has_next_page=False
            )
            return cls(edges=[], total_count_qs=nodes, page_info=no_page)
        rows = list(page)
        wanted = first if last is None else last
        more = len(rows) > wanted
        rows = rows[:wanted]
        if last is not None:
            rows.reverse()  # fetched in reverse order, from the end
        edges = [
            CursorEdge(
                node=cls.resolve_node(row, info=info, **kwargs), row=row, descriptors=descriptors
            )
            for row in rows
        ]
        return cls(
            edges=edges,
            total_count_qs=nodes,
            page_info=relay.PageInfo(
                start_cursor=keyset_cursor(rows[0], descriptors) if rows else None,
                end_cursor=keyset_cursor(rows[-1], descriptors) if rows else None,
                has_previous_page=more and last is not None,
                has_next_page=more and last is None,
            ),
        )


def describe_paging(field: StrawberryField) -> StrawberryField:
    """Give a connection field's paging arguments descriptions that say what they do."""
    for position, extension in enumerate(field.extensions):
        if type(extension) is StrawberryDjangoConnectionExtension:
            field.extensions[position] = _PagingArguments(max_results=extension.max_results)
    return field


class _PagingArguments(StrawberryDjangoConnectionExtension):
    DESCRIPTIONS: ClassVar[dict[str, str]] = {
        "before": "Only items before this cursor (an edge's or pageInfo.startCursor).",
        "after": "Only items after this cursor (an edge's or pageInfo.endCursor).",
        "first": "At most this many items from the start (of what follows `after`).",
        "last": "At most this many items from the end (of what precedes `before`); "
        "not with `first`.",
    }

    def apply(self, field: StrawberryField) -> None:
        super().apply(field)
        for argument in field.arguments:
            if argument.python_name in self.DESCRIPTIONS:
                argument.description = self.DESCRIPTIONS[argument.python_name]
