"""The root schema, merged from the per-domain query and mutation types."""

import strawberry
from django.conf import settings
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.relay.types import GlobalIDValueError
from strawberry.schema.config import StrawberryConfig
from strawberry_django.optimizer import DjangoOptimizerExtension

from schema import fastpath
from schema.accounts import AccountMutation
from schema.connections import PAGE_SIZE
from schema.error_codes import InputRefused
from schema.hooks import InboundHookMutation, InboundHookQuery
from schema.limits import SECURITY_EXTENSIONS
from schema.nodes import NodeQuery
from schema.observability import Observability
from schema.reminders import ReminderMutation
from schema.scalars import SCALAR_OVERRIDES
from schema.tasks import TaskMutation, TaskQuery
from schema.tokens import ApiTokenMutation, ApiTokenQuery
from schema.users import UserMutation, UserQuery
from schema.webhooks import WebhookMutation, WebhookQuery


@strawberry.type
class Query(NodeQuery, TaskQuery, UserQuery, ApiTokenQuery, WebhookQuery, InboundHookQuery):
    pass


@strawberry.type
class Mutation(
    TaskMutation,
    ReminderMutation,
    UserMutation,
    AccountMutation,
    ApiTokenMutation,
    WebhookMutation,
    InboundHookMutation,
):
    pass


class OptimizerExtension(DjangoOptimizerExtension):
    """The strawberry-django optimizer, minus its per-field middleware.

    strawberry-django fields already optimize the querysets they build (through the
    optimizer this extension puts in context), which covers every list and node here; the
    inherited `resolve` hook would wrap all ~500 field resolutions of a 50-task page.
    """

    resolve = SchemaExtension.resolve


# Errors the client caused: answered in the response, not logged with a traceback.
CLIENT_ERRORS = (GraphQLError, GlobalIDValueError, InputRefused)


class Schema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        unexpected = [
            error
            for error in errors
            if error.original_error is not None
            and not isinstance(error.original_error, CLIENT_ERRORS)
        ]
        super().process_errors(unexpected, execution_context)


schema = Schema(
    query=Query,
    mutation=Mutation,
    execution_context_class=fastpath.executor_class(),
    scalar_overrides=SCALAR_OVERRIDES,
    config=StrawberryConfig(
        relay_max_results=PAGE_SIZE,
        batching_config={"max_operations": settings.GRAPHQL_MAX_BATCH},
        # Suggestions ("Did you mean ...?") would leak the schema that introspection hides.
        disable_field_suggestions=not settings.GRAPHQL_INTROSPECTION,
    ),
    extensions=[
        Observability,
        *SECURITY_EXTENSIONS,
        OptimizerExtension,
    ],
)
fastpath.install(schema)
