"""Document limits checked in time linear in the document, before graphql-core validates it.

A GraphQL document can describe far more work than its size suggests: 17 fragments, each
spreading the next one twice, stand for 65,536 fields in 1 KB. Any check that expands a
fragment at each spread (strawberry's QueryDepthLimiter and MaxAliasesLimiter do) pays for
that expansion, and so does graphql-core's own validation, which would run before them.

So this module measures the document once, bottom up: every fragment is measured once, by
name, from the measures of the fragments it spreads (a cycle is refused as such), and an
operation's measure is the sum over its selections. Each count is what execution would see
after expanding every fragment: fields (`selections`), aliases, and depth. The whole pass is
iterative, so a deeply nested document cannot exhaust Python's recursion limit either.

`measure_document` returns the errors; `schema.limits.DocumentLimits` runs it between parsing
and graphql-core's validation and skips the latter when it refuses.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)

from core.timeouts import timeout_message

# Counts saturate here: a refused document's exact size does not matter, and 2**285 fields
# (285 doubling fragments fit in the token limit) need not be carried around as an integer.
SATURATED = 10**9


class LimitError(GraphQLError):
    """A request refused by a limit: `extensions.code` says which, the rest say how far off."""

    def __init__(self, message: str, code: str, nodes=None, **extensions: object) -> None:
        super().__init__(message, nodes, extensions={"code": code, **extensions})


def timeout_error(nodes=None, path=None) -> GraphQLError:
    """The database time limit of the request (core.timeouts) was reached."""
    return GraphQLError(timeout_message(), nodes, path=path, extensions={"code": "TIMEOUT"})


def argument_value(node: FieldNode, name: str, variables: dict[str, Any]) -> Any:
    """An argument's value as written in the document or given by its variable."""
    for argument in node.arguments or ():
        if argument.name.value == name:
            value = argument.value
            if isinstance(value, VariableNode):
                return variables.get(value.name.value)
            if isinstance(value, IntValueNode):
                return int(value.value)
            return getattr(value, "value", None)
    return None


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_selections: int


@dataclass(slots=True)
class Measure:
    depth: int = 0
    aliases: int = 0
    selections: int = 0

    def add(self, other: "Measure", *, deeper: int = 0) -> None:
        self.depth = max(self.depth, other.depth + deeper)
        self.aliases = min(self.aliases + other.aliases, SATURATED)
        self.selections = min(self.selections + other.selections, SATURATED)


def _spread_names(selection_set: SelectionSetNode) -> list[str]:
    """Names of the fragments spread anywhere in this selection set (not following them)."""
    names = []
    pending = [selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                names.append(selection.name.value)
            elif selection.selection_set is not None:
                pending.append(selection.selection_set)
    return names


def fragment_order(
    fragments: dict[str, FragmentDefinitionNode],
) -> tuple[list[str], LimitError | None]:
    """Fragment names, each after every fragment it spreads; or the first cycle found."""
    spreads = {
        name: [n for n in _spread_names(f.selection_set) if n in fragments]
        for name, f in fragments.items()
    }
    order: list[str] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in fragments:
        if start in state:
            continue
        state[start] = 1
        path = [start]
        stack = [iter(spreads[start])]
        while stack:
            name = next(stack[-1], None)
            if name is None:
                done = path.pop()
                stack.pop()
                state[done] = 2
                order.append(done)
                continue
            seen = state.get(name)
            if seen == 1:
                cycle = [*path[path.index(name) :], name]
                return order, LimitError(
                    f"Fragment cycle: {' -> '.join(cycle)}. A fragment cannot spread itself.",
                    "FRAGMENT_CYCLE",
                    [fragments[name]],
                )
            if seen is None:
                state[name] = 1
                path.append(name)
                stack.append(iter(spreads[name]))
    return order, None


def _measure_selection_set(
    selection_set: SelectionSetNode, fragment_measures: dict[str, Measure]
) -> Measure:
    """The counts after expansion, from the (already known) measures of spread fragments."""
    root = Measure()
    # Frames: (selections left, accumulator, the field owning this selection set or None).
    stack: list[tuple[Iterable, Measure, FieldNode | None, Measure | None]] = [
        (iter(selection_set.selections), root, None, None)
    ]
    while stack:
        selections, measure, owner, parent = stack[-1]
        selection = next(selections, None)
        if selection is None:
            stack.pop()
            if owner is not None:
                if owner.name.value.startswith("__"):
                    # Introspection nests `ofType` deeper than any real query: what lies
                    # under `__schema` or `__type` counts towards selections and aliases,
                    # not depth.
                    measure.depth = 0
                parent.add(measure, deeper=1)
                parent.add(Measure(0, 1 if owner.alias else 0, 1))
            continue
        if isinstance(selection, FieldNode):
            if selection.selection_set is None:
                measure.add(Measure(0, 1 if selection.alias else 0, 1))
            else:
                stack.append(
                    (iter(selection.selection_set.selections), Measure(), selection, measure)
                )
        elif isinstance(selection, InlineFragmentNode):
            # Same level: its fields join the enclosing accumulator.
            stack.append((iter(selection.selection_set.selections), measure, None, None))
        else:
            known = fragment_measures.get(selection.name.value)
            if known is not None:  # an unknown fragment is graphql-core's error to report
                measure.add(known)
    return root


def _check(
    measure: Measure, limits: Limits, name: str, node, *, depth: bool = True
) -> list[LimitError]:
    errors = []
    if depth and measure.depth > limits.max_depth:
        errors.append(
            LimitError(
                f"{name} is {measure.depth} levels deep; the limit is {limits.max_depth}.",
                "QUERY_TOO_DEEP",
                [node],
                depth=measure.depth,
                limit=limits.max_depth,
            )
        )
    if measure.aliases > limits.max_aliases:
        errors.append(
            LimitError(
                f"{name} has {_count(measure.aliases)} aliases (after expanding fragments); "
                f"the limit is {limits.max_aliases}.",
                "TOO_MANY_ALIASES",
                [node],
                aliases=measure.aliases,
                limit=limits.max_aliases,
            )
        )
    if measure.selections > limits.max_selections:
        errors.append(
            LimitError(
                f"{name} selects {_count(measure.selections)} fields (after expanding "
                f"fragments); the limit is {limits.max_selections}.",
                "TOO_COMPLEX",
                [node],
                selections=measure.selections,
                limit=limits.max_selections,
            )
        )
    return errors


def _count(value: int) -> str:
    return f"over {SATURATED:,}" if value >= SATURATED else f"{value:,}"


def measure_document(document: DocumentNode, limits: Limits) -> list[LimitError]:
    """Every limit the document breaks (empty: within limits), in one linear pass."""
    fragments: dict[str, FragmentDefinitionNode] = {}
    operations: list[OperationDefinitionNode] = []
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            # A repeated name is graphql-core's error; the first definition is measured.
            fragments.setdefault(definition.name.value, definition)
        elif isinstance(definition, OperationDefinitionNode):
            operations.append(definition)
    order, cycle = fragment_order(fragments)
    if cycle is not None:
        return [cycle]
    measures: dict[str, Measure] = {}
    for name in order:
        measures[name] = _measure_selection_set(fragments[name].selection_set, measures)
        # Refused even when unused: graphql-core would still validate (and expand) it. Its
        # depth counts only where it is spread (under `__schema` it does not count at all).
        label = f"Fragment '{name}'"
        if errors := _check(measures[name], limits, label, fragments[name], depth=False):
            return errors
    for operation in operations:
        measure = _measure_selection_set(operation.selection_set, measures)
        label = f"Operation '{operation.name.value}'" if operation.name else "The operation"
        if errors := _check(measure, limits, label, operation):
            return errors
    return []
