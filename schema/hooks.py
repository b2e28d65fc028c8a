"""Inbound hooks: the GraphQL API to manage them (the endpoint is schema/hook_view.py).

``POST /hooks/<id>/`` runs the hook's stored mutation as its owner, with variables from the
JSON body (docs/webhooks.md), only when the Standard Webhooks signature verifies with the
hook's secret and ``webhook-timestamp`` is within 5 minutes. The ``webhook-id`` is an
idempotency key (webhooks/idempotency.py): a retry gets the first answer, replayed. The hook
acts like a WRITE-scoped API token of its owner: the same limits and extensions run, and
session-only operations (tokens, password, sessions) are refused.
"""

from datetime import datetime

import strawberry
import strawberry_django
from django.conf import settings
from django.db.models import QuerySet
from graphql import GraphQLError, NonNullTypeNode, OperationType, parse, validate
from strawberry import Info, auto, relay
from strawberry.scalars import JSON

from schema.auth import IsAuthenticated, caller, session_only
from schema.connections import bounded_first
from schema.errors import FieldError, payload_errors
from schema.ids import ModelNode, decode_pk
from schema.inputs import given
from webhooks import hooks
from webhooks.models import InboundDelivery, InboundHook

DELIVERIES_MAX = 100


def document_check(schema: strawberry.Schema, document: str) -> hooks.CheckedDocument:
    """No problems when the document is one valid mutation of this schema; the variables its
    operation declares, each required when its type is non-null and it has no default."""
    try:
        parsed = parse(document, max_tokens=settings.GRAPHQL_MAX_TOKENS)
    except GraphQLError as exc:
        return hooks.CheckedDocument(problems=[exc.message], variables=None)
    operations = [d for d in parsed.definitions if getattr(d, "operation", None) is not None]
    if len(operations) != 1:
        return hooks.CheckedDocument(
            problems=["The document must hold exactly one operation."], variables=None
        )
    operation = operations[0]
    variables = {
        definition.variable.name.value: isinstance(definition.type, NonNullTypeNode)
        and definition.default_value is None
        for definition in operation.variable_definitions or ()
    }
    if operation.operation != OperationType.MUTATION:
        problems = ["The document must be a mutation."]
    else:
        problems = [error.message for error in validate(schema._schema, parsed)]
    return hooks.CheckedDocument(problems=problems, variables=variables)


def _hook_pk(id: strawberry.ID) -> int | None:
    return decode_pk(id, "InboundHook")


@strawberry_django.type(InboundHook, name="InboundHook")
class InboundHookType(ModelNode):
    name: auto
    document: auto
    enabled: auto
    created_at: auto

    @strawberry_django.field(
        only=["variables"],
        description="Variable name -> JSON pointer into the body; {}: the top-level keys.",
    )
    def variables(self, root: InboundHook) -> JSON:
        return root.variables

    @strawberry_django.field(only=["public_id"], description="POST signed requests here.")
    def url(self, root: InboundHook, info: Info) -> str:
        return info.context.request.build_absolute_uri(f"/hooks/{root.public_id}/")

    @classmethod
    def get_queryset(cls, queryset: QuerySet, info: Info, **kwargs) -> QuerySet:
        return queryset & hooks.inbound_hook_list(user=info.context.request.user)


@strawberry.type(name="InboundDelivery")
class InboundDeliveryType:
    webhook_id: str
    received_at: datetime
    status_code: int
    replayed: bool = strawberry.field(description="A retry answered with the first response.")
    response: str = strawberry.field(description="The answer sent (truncated).")

    @classmethod
    def of(cls, delivery: InboundDelivery) -> "InboundDeliveryType":
        return cls(
            webhook_id=delivery.webhook_id,
            received_at=delivery.received_at,
            status_code=delivery.status_code,
            replayed=delivery.replayed,
            response=delivery.response,
        )


@strawberry.input
class InboundHookCreateInput:
    name: str
    document: str = strawberry.field(description="One GraphQL mutation, with its variables.")
    variables: JSON | None = strawberry.field(
        default=None,
        description=(
            'Optional: {"variable": "/json/pointer"} for each variable the document requires,'
            " and only variables it declares. Default: the top-level keys."
        ),
    )


@strawberry.input
class InboundHookUpdateInput:
    name: str | None = strawberry.UNSET
    document: str | None = strawberry.UNSET
    variables: JSON | None = strawberry.UNSET
    enabled: bool | None = strawberry.UNSET


@strawberry.type
class InboundHookPayload:
    inbound_hook: InboundHookType | None = None
    secret: str | None = strawberry.field(
        default=None, description="The signing secret (`whsec_...`), only on create and rotate."
    )
    errors: list[FieldError] = strawberry.field(default_factory=list)


@strawberry.type
class InboundHookDeletePayload:
    deleted_id: relay.GlobalID | None = None
    errors: list[FieldError] = strawberry.field(default_factory=list)


@strawberry.type
class InboundHookQuery:
    @strawberry.field(permission_classes=[IsAuthenticated])
    def inbound_hooks(self, info: Info) -> list[InboundHookType]:
        return list(hooks.inbound_hook_list(user=caller(info)))

    @strawberry.field(
        description=f"Requests a hook received, newest first (at most {DELIVERIES_MAX}).",
        permission_classes=[IsAuthenticated],
    )
    def inbound_hook_deliveries(
        self, info: Info, hook_id: strawberry.ID, first: int = 20
    ) -> list[InboundDeliveryType]:
        deliveries = hooks.inbound_delivery_list(
            user=caller(info), hook_pk=_hook_pk(hook_id), limit=bounded_first(first, DELIVERIES_MAX)
        )
        return [InboundDeliveryType.of(d) for d in deliveries]


# A hook is a credential: like API tokens, hooks are created and their secrets rotated from a
# browser session only, so that a leaked token (or a hook) cannot mint a way in that outlives
# its revocation. Changing, disabling and deleting one needs no more than a WRITE token.
SESSION_ONLY = session_only("manage inbound hooks")


@strawberry.type
class InboundHookMutation:
    @strawberry.mutation(
        description="A URL that runs one stored mutation when a signed request arrives.",
        permission_classes=[IsAuthenticated, SESSION_ONLY],
    )
    @payload_errors
    def inbound_hook_create(self, info: Info, input: InboundHookCreateInput) -> InboundHookPayload:
        hook = hooks.inbound_hook_create(
            user=caller(info),
            name=input.name,
            document=input.document,
            variables=input.variables,
            check=lambda document: document_check(info.schema, document),
        )
        return InboundHookPayload(inbound_hook=hook, secret=hook.secret)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @payload_errors
    def inbound_hook_update(
        self, info: Info, id: strawberry.ID, input: InboundHookUpdateInput
    ) -> InboundHookPayload:
        values = given(
            input,
            "name",
            "document",
            "variables",
            "enabled",
            not_null=("name", "document", "enabled"),
        )
        hook = hooks.inbound_hook_update(
            user=caller(info),
            pk=_hook_pk(id),
            check=lambda document: document_check(info.schema, document),
            **values,
        )
        return InboundHookPayload(inbound_hook=hook)

    @strawberry.mutation(permission_classes=[IsAuthenticated, SESSION_ONLY])
    @payload_errors
    def inbound_hook_secret_rotate(self, info: Info, id: strawberry.ID) -> InboundHookPayload:
        hook = hooks.inbound_hook_secret_rotate(user=caller(info), pk=_hook_pk(id))
        return InboundHookPayload(inbound_hook=hook, secret=hook.secret)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @payload_errors
    def inbound_hook_delete(self, info: Info, id: strawberry.ID) -> InboundHookDeletePayload:
        hooks.inbound_hook_delete(user=caller(info), pk=_hook_pk(id))
        return InboundHookDeletePayload(deleted_id=id)


class HookCredential:
    """Stands where an API token would (``request.api_token``): WRITE scope, not a session."""

    can_write = True

    def __init__(self, hook: InboundHook) -> None:
        self.hook = hook
