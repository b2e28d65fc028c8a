"""Static query cost: what a request may make the server do, priced before it runs.

The price of an operation is the number of objects it can return at most, read from the
document and its variables alone (after validation, before any SQL):

- an object field counts 1 for each time its parent can occur;
- a list counts its size: `first`/`last` when given, never above the field's cap, otherwise
  the cap (`LIST_CAPS`; the page size, 100, for lists not named there);
- a connection counts its page size, and multiplies what is selected inside it (edges, their
  nodes and everything below) by that size;
- transitive reads (`ancestors`, `descendants`, `blockers(transitive: true)`) are priced by
  their cap (GRAPHQL_MAX_TRANSITIVE), `taskOrder` by the most tasks a user may have;
- every mutation field adds `MUTATION_COST`; leaves and `__typename` cost nothing, and
  introspection fields a flat 1;
- an object field asked again in the same selection (under another alias) inside a list adds
  `REPEATED_FIELD_COST` per item: it is resolved with a query per item;
- a transitive read adds `TRANSITIVE_CALL_COST` each time it runs (its own queries).

Each fragment is priced once, by name (a price is linear in how often its parent occurs).

Two budgets: one per request (`GRAPHQL_MAX_COST`: refused before running) and one per caller
per minute (`GRAPHQL_COST_PER_MINUTE`, points kept in the Django cache, shared by every
process through Redis in production: refused with the seconds until the window resets). The
operations of a batch share one request's budget. Every response reports both in
`extensions.cost`; the Django request carries the price of what it ran as
`request.graphql_cost` (the sum over a batch) for metrics.
"""

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from django.http import HttpRequest
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_leaf_type,
)
from strawberry.extensions import SchemaExtension

from core.timeouts import is_timeout
from schema import hooks, webhooks
from schema.auth import client_address
from schema.connections import PAGE_SIZE
from schema.nodes import MAX_NODES
from schema.validation import LimitError, argument_value, fragment_order, timeout_error
from users.services import MAX_ACTIVE_API_TOKENS

MUTATION_COST = 10
# The optimizer plans one query for a relation over a whole page, but not for the same field
# asked again under another alias: each repetition is then a query per item.
REPEATED_FIELD_COST = 10
# A transitive read runs its own queries (the walk, then the rows) for each task it is asked
# on: measured at about 2-4 ms a call on PostgreSQL, where 25,000 points buy about a second.
TRANSITIVE_CALL_COST = 100
TRANSITIVE_FIELDS = {("Task", "ancestors"), ("Task", "descendants"), ("Query", "taskOrder")}


def _setting(name: str) -> Callable[[], int]:
    return lambda: getattr(settings, name)


# (type, field) -> the most items the list can hold, read per request (settings may change).
LIST_CAPS: dict[tuple[str, str], Callable[[], int]] = {
    ("Task", "preTasks"): _setting("TASK_MAX_PRE_TASKS"),
    ("Task", "blockers"): _setting("TASK_MAX_PRE_TASKS"),
    ("Task", "scheduleConflicts"): _setting("TASK_MAX_PRE_TASKS"),
    ("Task", "reminders"): _setting("TASK_MAX_REMINDERS"),
    ("Task", "dependents"): lambda: PAGE_SIZE,
    ("Task", "ancestors"): _setting("GRAPHQL_MAX_TRANSITIVE"),  # a TaskReach
    ("Task", "descendants"): _setting("GRAPHQL_MAX_TRANSITIVE"),
    ("Query", "taskOrder"): _setting("USER_MAX_TASKS"),
    ("Query", "apiTokens"): lambda: MAX_ACTIVE_API_TOKENS,
    ("Query", "webhooks"): _setting("WEBHOOK_MAX_PER_USER"),
    ("Query", "webhookDeliveries"): lambda: webhooks.DELIVERIES_MAX,
    ("WebhookDelivery", "attemptLog"): lambda: webhooks.ATTEMPT_LOG_MAX,
    ("Query", "inboundHooks"): _setting("INBOUND_HOOK_MAX_PER_USER"),
    ("Query", "inboundHookDeliveries"): lambda: hooks.DELIVERIES_MAX,
    # Lists of enum values and input errors: small by construction.
    ("ApiToken", "scopes"): lambda: 2,
}
# Lists as long as a list argument: (type, field) -> (argument, cap).
SIZED_BY_ARGUMENT: dict[tuple[str, str], tuple[str, Callable[[], int]]] = {
    ("Query", "nodes"): ("ids", lambda: MAX_NODES),
}
# Lists whose size depends on an argument: (type, field, argument) -> cap when it is true.
TRANSITIVE_CAPS: dict[tuple[str, str, str], Callable[[], int]] = {
    ("Task", "blockers", "transitive"): _setting("GRAPHQL_MAX_TRANSITIVE"),
}


def _is_list(type_) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


# Objects wrapping one list, like connections: (type name -> the list inside). The field
# returning one is priced by its page size; the list inside takes that size.
PAGED_TYPES = {"TaskReach": "items"}


def _paged_list(type_) -> str | None:
    """The list field inside a connection-like type, or None for other types."""
    if not isinstance(type_, GraphQLObjectType):
        return None
    if type_.name.endswith("Connection") and "edges" in type_.fields:
        return "edges"
    return PAGED_TYPES.get(type_.name)


def _page(node: FieldNode, variables: dict[str, Any], cap: int) -> int:
    sizes = [argument_value(node, name, variables) for name in ("first", "last")]
    given = [size for size in sizes if isinstance(size, int) and size >= 0]
    return min([cap, *given])


# Payload errors: at most one or two per input field.
ERRORS_CAP = 10


def _list_cap(parent: str, node: FieldNode, variables: dict[str, Any]) -> int:
    name = node.name.value
    if name == "errors" and parent.endswith("Payload"):
        return ERRORS_CAP
    for (type_name, field_name, flag), cap in TRANSITIVE_CAPS.items():
        if (type_name, field_name) == (parent, name) and argument_value(
            node, flag, variables
        ) is True:
            return cap()
    sized = SIZED_BY_ARGUMENT.get((parent, name))
    if sized is not None:
        argument, cap = sized
        given = _list_length(node, argument, variables)
        return cap() if given is None else min(given, cap())
    cap = LIST_CAPS.get((parent, name))
    return cap() if cap is not None else PAGE_SIZE


def _list_length(node: FieldNode, name: str, variables: dict[str, Any]) -> int | None:
    for argument in node.arguments or ():
        if argument.name.value == name:
            value = argument.value
            if isinstance(value, VariableNode):
                given = variables.get(value.name.value)
                return len(given) if isinstance(given, list) else None
            if isinstance(value, ListValueNode):
                return len(value.values)
    return None


@dataclass(slots=True)
class _Pricer:
    schema: GraphQLSchema
    variables: dict[str, Any]
    fragments: dict[str, int]

    def price(self, selection_set: SelectionSetNode, parent) -> int:
        """The price of a selection set for one occurrence of its parent (iterative)."""
        total = 0
        # Frames: (selections left, their parent type, occurrences, field names seen there).
        stack: list[tuple[Iterator, Any, int, set[str]]] = [
            (iter(selection_set.selections), parent, 1, set())
        ]
        while stack:
            selections, parent_type, times, seen = stack[-1]
            selection = next(selections, None)
            if selection is None:
                stack.pop()
            elif isinstance(selection, FieldNode):
                total += self._field(selection, parent_type, times, seen, stack)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent_type
                stack.append((iter(selection.selection_set.selections), inner, times, seen))
            elif isinstance(selection, FragmentSpreadNode):
                total += times * self.fragments.get(selection.name.value, 0)
        return total

    def _field(self, node: FieldNode, parent_type, times: int, seen: set, stack: list) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 0 if name == "__typename" else times
        fields = getattr(parent_type, "fields", None) or {}
        field = fields.get(name)
        if field is None:
            return 0
        named = get_named_type(field.type)
        if is_leaf_type(named):
            return 0
        extra = 0
        if name in seen and times > 1:
            extra = times * REPEATED_FIELD_COST
        if (parent_type.name, name) in TRANSITIVE_FIELDS or (
            (parent_type.name, name) == ("Task", "blockers")
            and argument_value(node, "transitive", self.variables) is True
        ):
            extra += times * TRANSITIVE_CALL_COST
        seen.add(name)
        if name == _paged_list(parent_type):
            count = times  # already multiplied by the connection's page size
        elif _paged_list(named) is not None or _is_list(field.type):
            cap = _list_cap(parent_type.name, node, self.variables)
            count = times * _page(node, self.variables, cap)
        else:
            count = times
        if node.selection_set is not None:
            stack.append((iter(node.selection_set.selections), named, count, set()))
        return count + extra


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == name), None)


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: dict[str, Any] | None = None,
) -> int:
    """The static price of the operation that would run (0 if none would)."""
    operation = _operation(document, operation_name)
    if operation is None:
        return 0
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    order, cycle = fragment_order(fragments)
    if cycle is not None:
        return 0  # validation refuses it
    pricer = _Pricer(schema, variables or {}, {})
    for fragment_name in order:
        definition = fragments[fragment_name]
        parent = schema.get_type(definition.type_condition.name.value)
        pricer.fragments[fragment_name] = pricer.price(definition.selection_set, parent)
    root = schema.get_root_type(operation.operation)
    cost = pricer.price(operation.selection_set, root)
    if operation.operation == OperationType.MUTATION:
        cost += MUTATION_COST * len(operation.selection_set.selections)
    return cost


@dataclass(frozen=True, slots=True)
class Budget:
    """The caller's points for the current minute."""

    limit: int
    used: int
    resets_in: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


def _caller(request) -> str:
    user = request.user
    who = f"user:{user.pk}" if user.is_authenticated else f"address:{client_address(request)}"
    # Hashed: addresses are personal data.
    return hashlib.sha256(who.encode()).hexdigest()[:32]


def budget_charge(request, points: int) -> tuple[bool, Budget]:
    """Take points from the caller's budget for this minute; refused (and nothing taken)
    when they would overdraw it. One atomic increment in the shared cache."""
    limit = settings.GRAPHQL_COST_PER_MINUTE
    now = time.time()
    window = int(now // 60)
    resets_in = max(1, int((window + 1) * 60 - now + 0.999))
    key = f"cost:{_caller(request)}:{window}"
    cache.add(key, 0, timeout=120)
    try:
        used = cache.incr(key, points) if points else cache.get(key, 0)
    except ValueError:  # expired between add and incr
        cache.set(key, points, timeout=120)
        used = points
    if used > limit:
        if points:
            used = cache.decr(key, points)
        return False, Budget(limit, used, resets_in)
    return True, Budget(limit, used, resets_in)


class QueryCost(SchemaExtension):
    """Price the operation before it runs; refuse it over either budget."""

    def __init__(self) -> None:
        super().__init__()
        self.cost: int | None = None
        self.budget: Budget | None = None

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.result is None and context.graphql_document is not None:
            self._price(context)
        yield

    def _price(self, context) -> None:
        self.cost = operation_cost(
            context.schema._schema,
            context.graphql_document,
            context.operation_name,
            context.variables,
        )
        request = getattr(context.context, "request", None)
        # The operations of one batch share the request's budget: together they cost it.
        spent = getattr(request, "graphql_cost", 0) if isinstance(request, HttpRequest) else 0
        limit = settings.GRAPHQL_MAX_COST
        if spent + self.cost > limit:
            if spent:
                message = (
                    f"This operation could cost {self.cost:,} points and the batch's earlier "
                    f"ones {spent:,}; one request may cost at most {limit:,}. Send fewer "
                    "operations per batch."
                )
            else:
                message = (
                    f"This query could cost {self.cost:,} points; one request may cost at "
                    f"most {limit:,}. Ask for smaller pages (first/last), fewer nested lists, "
                    "or split it."
                )
            context.result = ExecutionResult(
                data=None,
                errors=[LimitError(message, "QUERY_TOO_COSTLY", cost=self.cost, budget=limit)],
            )
            return
        if isinstance(request, HttpRequest):
            request.graphql_cost = spent + self.cost
        if not isinstance(request, HttpRequest):
            return  # executed in-process (tests, scripts): no caller to charge
        try:
            # Loads the caller (session, user): the request's first queries.
            accepted, self.budget = budget_charge(request, self.cost)
        except DatabaseError as exc:
            if not is_timeout(exc):
                raise
            context.result = ExecutionResult(data=None, errors=[timeout_error()])
            return
        if not accepted:
            context.result = ExecutionResult(
                data=None,
                errors=[
                    LimitError(
                        f"Query budget exhausted: {self.budget.remaining:,} of "
                        f"{self.budget.limit:,} points left this minute, this query needs "
                        f"{self.cost:,}. Retry in {self.budget.resets_in} seconds.",
                        "THROTTLED",
                        cost=self.cost,
                        remaining=self.budget.remaining,
                        budget=self.budget.limit,
                        retryAfter=self.budget.resets_in,
                    )
                ],
            )
            response = getattr(context.context, "response", None)
            if response is not None:
                response.headers["Retry-After"] = str(self.budget.resets_in)

    def get_results(self) -> dict[str, Any]:
        if self.cost is None:
            return {}
        cost: dict[str, Any] = {"requested": self.cost, "budget": settings.GRAPHQL_MAX_COST}
        if self.budget is not None:
            cost["minute"] = {
                "budget": self.budget.limit,
                "remaining": self.budget.remaining,
                "resetsIn": self.budget.resets_in,
            }
        return {"cost": cost}
