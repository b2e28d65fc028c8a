"""GraphQL operations in the logs and the metrics.

Every log line written while an operation executes carries its name (``graphql_operation``);
each operation is counted by name, type and outcome, timed, and its static cost observed
when the limits layer computed one (it adds each operation's cost to ``request.graphql_cost``,
so an operation's own is what it added).
"""

import time

import structlog
from strawberry.extensions import SchemaExtension

from core.metrics import GRAPHQL_COST, GRAPHQL_DURATION, GRAPHQL_OPERATIONS, operation_label


class Observability(SchemaExtension):
    def on_execute(self):
        structlog.contextvars.bind_contextvars(
            graphql_operation=operation_label(self.execution_context.operation_name)
        )
        yield

    def on_operation(self):
        started = time.perf_counter()
        request = getattr(self.execution_context.context, "request", None)
        # The limits layer adds each operation's cost to the request (a batch's total).
        cost_before = getattr(request, "graphql_cost", None) or 0
        yield
        context = self.execution_context
        name = operation_label(context.operation_name)
        try:
            kind = context.operation_type.value
        except RuntimeError:  # the document did not parse
            kind = "unknown"
        result = context.result
        errors = (result.errors if result is not None else None) or context.pre_execution_errors
        GRAPHQL_OPERATIONS.labels(name, kind, "error" if errors else "ok").inc()
        GRAPHQL_DURATION.labels(name).observe(time.perf_counter() - started)
        cost = getattr(request, "graphql_cost", None)
        if cost is not None and cost > cost_before:
            GRAPHQL_COST.labels(name).observe(cost - cost_before)
