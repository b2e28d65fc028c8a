"""Inbound hooks: the GraphQL API to manage them (the endpoint is schema/hook_view.py).

``POST /hooks/<id>/`` runs the hook's stored mutation as its owner, with variables from the
JSON body (docs/webhooks.md), only when the Standard Webhooks signature verifies with the
hook's secret and ``webhook-timestamp`` is within 5 minutes. The ``webhook-id`` is an
idempotency key (webhooks/idempotency.py): a retry gets the first answer, replayed. The hook
acts like a WRITE-scoped API token of its owner: the same limits and extensions run, and
session-only operations (tokens, password, sessions) are refused.
"""

import uuid
from datetime import datetime

import strawberry
from django.conf import settings
from django.http import HttpRequest
from graphql import GraphQLError, OperationType, parse, validate
from strawberry import Info, relay
from strawberry.scalars import JSON

from schema.auth import IsAuthenticated, caller, session_only
from schema.errors import FieldError, payload_errors
from schema.inputs import given
from webhooks import hooks
from webhooks.models import InboundDelivery, InboundHook

DELIVERIES_MAX = 100


def document_problems(schema: strawberry.Schema, document: str) -> list[str]:
    """Empty when the document is one valid mutation of this schema."""
    try:
        parsed = parse(document, max_tokens=settings.GRAPHQL_MAX_TOKENS)
    except GraphQLError as exc:
        return [exc.message]
    operations = [d for d in parsed.definitions if getattr(d, "operation", None) is not None]
    if len(operations) != 1:
        return ["The document must hold exactly one operation."]
    if operations[0].operation != OperationType.MUTATION:
        return ["The document must be a mutation."]
    return [error.message for error in validate(schema._schema, parsed)]


def _hook_pk(id: relay.GlobalID) -> str | None:
    if id.type_name != "InboundHook":
        return None
    return id.node_id if _is_uuid(id.node_id) else None


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@strawberry.type(name="InboundHook")
class InboundHookType:
    id: relay.GlobalID
    name: str
    document: str
    variables: JSON = strawberry.field(
        description="Variable name -> JSON pointer into the body; {}: the top-level keys."
    )
    enabled: bool
    url: str = strawberry.field(description="POST signed requests here.")
    created_at: datetime

    @classmethod
    def of(cls, hook: InboundHook, request: HttpRequest) -> "InboundHookType":
        return cls(
            id=relay.GlobalID("InboundHook", str(hook.pk)),
            name=hook.name,
            document=hook.document,
            variables=hook.variables,
            enabled=hook.enabled,
            url=request.build_absolute_uri(f"/hooks/{hook.pk}/"),
            created_at=hook.created_at,
        )


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
        description='Optional: {"variable": "/json/pointer"}. Default: the top-level keys.',
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
        request = info.context.request
        return [InboundHookType.of(h, request) for h in hooks.inbound_hook_list(user=caller(info))]

    @strawberry.field(
        description=f"Requests a hook received, newest first (at most {DELIVERIES_MAX}).",
        permission_classes=[IsAuthenticated],
    )
    def inbound_hook_deliveries(
        self, info: Info, hook_id: relay.GlobalID, first: int = 20
    ) -> list[InboundDeliveryType]:
        deliveries = hooks.inbound_delivery_list(
            user=caller(info), hook_pk=_hook_pk(hook_id), limit=max(0, min(first, DELIVERIES_MAX))
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
            check=lambda document: document_problems(info.schema, document),
        )
        return InboundHookPayload(
            inbound_hook=InboundHookType.of(hook, info.context.request), secret=hook.secret
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @payload_errors
    def inbound_hook_update(
        self, info: Info, id: relay.GlobalID, input: InboundHookUpdateInput
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
            check=lambda document: document_problems(info.schema, document),
            **values,
        )
        return InboundHookPayload(inbound_hook=InboundHookType.of(hook, info.context.request))

    @strawberry.mutation(permission_classes=[IsAuthenticated, SESSION_ONLY])
    @payload_errors
    def inbound_hook_secret_rotate(self, info: Info, id: relay.GlobalID) -> InboundHookPayload:
        hook = hooks.inbound_hook_secret_rotate(user=caller(info), pk=_hook_pk(id))
        return InboundHookPayload(
            inbound_hook=InboundHookType.of(hook, info.context.request), secret=hook.secret
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @payload_errors
    def inbound_hook_delete(self, info: Info, id: relay.GlobalID) -> InboundHookDeletePayload:
        hooks.inbound_hook_delete(user=caller(info), pk=_hook_pk(id))
        return InboundHookDeletePayload(deleted_id=id)


class HookCredential:
    """Stands where an API token would (``request.api_token``): WRITE scope, not a session."""

    can_write = True

    def __init__(self, hook: InboundHook) -> None:
        self.hook = hook
