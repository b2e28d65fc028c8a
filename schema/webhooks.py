"""Outbound webhooks: endpoints, their delivery log, redelivery (docs/webhooks.md)."""

from datetime import datetime

import strawberry
import strawberry_django
from django.db.models import QuerySet
from strawberry import Info, auto, relay
from strawberry.scalars import JSON

from schema.auth import IsAuthenticated, caller
from schema.connections import bounded_first
from schema.errors import FieldError, payload_errors
from schema.ids import ModelNode, decode_pk
from schema.inputs import given
from webhooks import selectors, services
from webhooks.models import DeliveryState, EventType, WebhookDelivery, WebhookEndpoint

WebhookEventTypeEnum = strawberry.enum(
    EventType,
    name="WebhookEventType",
    description="Event types, sent as their value (e.g. `task.created`) in the body's `type`.",
)
WebhookDeliveryStateEnum = strawberry.enum(DeliveryState, name="WebhookDeliveryState")

DELIVERIES_MAX = 100
# Manual retries can add attempts without end: the log shows the latest ones.
ATTEMPT_LOG_MAX = 50


@strawberry_django.type(
    WebhookEndpoint, name="WebhookEndpoint", description="An endpoint our events are sent to."
)
class WebhookType(ModelNode):
    url: auto
    description: auto
    enabled: auto
    disabled_reason: str = strawberry_django.field(description="Why it was disabled, if it was.")
    consecutive_failures: auto
    created_at: auto

    @strawberry_django.field(only=["events"])
    def events(self, root: WebhookEndpoint) -> list[WebhookEventTypeEnum]:
        return [EventType(name) for name in root.events]

    @classmethod
    def get_queryset(cls, queryset: QuerySet, info: Info, **kwargs) -> QuerySet:
        return queryset & selectors.webhook_list(user=info.context.request.user)


@strawberry.type(name="WebhookAttempt")
class WebhookAttemptType:
    started_at: datetime
    finished_at: datetime
    status_code: int | None = strawberry.field(description="Null: no HTTP answer.")
    error: str
    succeeded: bool


@strawberry_django.type(
    WebhookDelivery,
    name="WebhookDelivery",
    description="One event sent (or to send) to one endpoint.",
)
class WebhookDeliveryType(ModelNode):
    state: WebhookDeliveryStateEnum
    attempts: auto
    last_status_code: auto
    last_error: auto
    created_at: auto
    succeeded_at: auto

    @strawberry_django.field(
        select_related=["event"],
        description="The `webhook-id` header: the same on every attempt; receivers dedupe on it.",
    )
    def webhook_id(self, root: WebhookDelivery) -> str:
        return root.event.webhook_id

    @strawberry_django.field(select_related=["event"])
    def event_type(self, root: WebhookDelivery) -> WebhookEventTypeEnum:
        return EventType(root.event.type)

    @strawberry_django.field(select_related=["event"], description="The event's `data`.")
    def payload(self, root: WebhookDelivery) -> JSON:
        return root.event.data

    @strawberry_django.field(only=["state", "next_attempt_at"])
    def next_attempt_at(self, root: WebhookDelivery) -> datetime | None:
        return root.next_attempt_at if root.state == DeliveryState.PENDING else None

    @strawberry_django.field(
        prefetch_related=["attempt_log"],
        description=f"The latest attempts, oldest first (at most {ATTEMPT_LOG_MAX}).",
    )
    def attempt_log(self, root: WebhookDelivery) -> list[WebhookAttemptType]:
        attempts = sorted(root.attempt_log.all(), key=lambda a: (a.started_at, a.pk))
        return [
            WebhookAttemptType(
                started_at=a.started_at,
                finished_at=a.finished_at,
                status_code=a.status_code,
                error=a.error,
                succeeded=a.succeeded,
            )
            for a in attempts[-ATTEMPT_LOG_MAX:]
        ]

    @classmethod
    def get_queryset(cls, queryset: QuerySet, info: Info, **kwargs) -> QuerySet:
        return queryset.filter(endpoint__owner=info.context.request.user)


@strawberry.input
class WebhookCreateInput:
    url: str = strawberry.field(description="http(s) URL on a public address; no redirects.")
    events: list[WebhookEventTypeEnum]
    description: str = ""


@strawberry.input
class WebhookUpdateInput:
    url: str | None = strawberry.UNSET
    events: list[WebhookEventTypeEnum] | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    enabled: bool | None = strawberry.field(
        default=strawberry.UNSET, description="true re-enables it and resets the failure count."
    )


@strawberry.type
class WebhookSecretPayload:
    webhook: WebhookType | None = None
    secret: str | None = strawberry.field(
        default=None,
        description="The Standard Webhooks signing secret (`whsec_...`). Shown only this once.",
    )
    errors: list[FieldError] = strawberry.field(default_factory=list)


@strawberry.type
class WebhookPayload:
    webhook: WebhookType | None = None
    errors: list[FieldError] = strawberry.field(default_factory=list)


@strawberry.type
class WebhookDeletePayload:
    deleted_id: relay.GlobalID | None = None
    errors: list[FieldError] = strawberry.field(default_factory=list)


@strawberry.type
class WebhookDeliveryPayload:
    delivery: WebhookDeliveryType | None = None
    errors: list[FieldError] = strawberry.field(default_factory=list)


def _values(input: WebhookUpdateInput) -> dict:
    values = given(
        input,
        "url",
        "events",
        "description",
        "enabled",
        not_null=("url", "events", "description", "enabled"),
    )
    if "events" in values:
        values["events"] = [event.value for event in values["events"]]
    return values


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="Your webhook endpoints.", permission_classes=[IsAuthenticated])
    def webhooks(self, info: Info) -> list[WebhookType]:
        return list(selectors.webhook_list(user=caller(info)))

    @strawberry.field(
        description=f"An endpoint's deliveries, newest first (at most {DELIVERIES_MAX}).",
        permission_classes=[IsAuthenticated],
    )
    def webhook_deliveries(
        self,
        info: Info,
        webhook_id: strawberry.ID,
        state: WebhookDeliveryStateEnum | None = None,
        first: int = 20,
    ) -> list[WebhookDeliveryType]:
        deliveries = selectors.webhook_delivery_list(
            user=caller(info),
            endpoint_pk=decode_pk(webhook_id, "WebhookEndpoint"),
            state=state.value if state else None,
            limit=bounded_first(first, DELIVERIES_MAX),
        )
        return deliveries


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        description="Send events to a URL. The signing secret is in this answer only.",
        permission_classes=[IsAuthenticated],
    )
    @payload_errors
    def webhook_create(self, info: Info, input: WebhookCreateInput) -> WebhookSecretPayload:
        created = services.webhook_create(
            user=caller(info),
            url=input.url,
            events=[event.value for event in input.events],
            description=input.description,
        )
        return WebhookSecretPayload(webhook=created.endpoint, secret=created.secret)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @payload_errors
    def webhook_update(
        self, info: Info, id: strawberry.ID, input: WebhookUpdateInput
    ) -> WebhookPayload:
        endpoint = services.webhook_update(
            user=caller(info), pk=decode_pk(id, "WebhookEndpoint"), **_values(input)
        )
        return WebhookPayload(webhook=endpoint)

    @strawberry.mutation(
        description="A new signing secret, shown only this once; the old one stops at once.",
        permission_classes=[IsAuthenticated],
    )
    @payload_errors
    def webhook_secret_rotate(self, info: Info, id: strawberry.ID) -> WebhookSecretPayload:
        rotated = services.webhook_secret_rotate(
            user=caller(info), pk=decode_pk(id, "WebhookEndpoint")
        )
        return WebhookSecretPayload(webhook=rotated.endpoint, secret=rotated.secret)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @payload_errors
    def webhook_delete(self, info: Info, id: strawberry.ID) -> WebhookDeletePayload:
        services.webhook_delete(user=caller(info), pk=decode_pk(id, "WebhookEndpoint"))
        return WebhookDeletePayload(deleted_id=id)

    @strawberry.mutation(
        description="Send a delivery again now, with the same webhook-id.",
        permission_classes=[IsAuthenticated],
    )
    @payload_errors
    def webhook_delivery_retry(self, info: Info, id: strawberry.ID) -> WebhookDeliveryPayload:
        delivery = services.webhook_delivery_retry(
            user=caller(info), pk=decode_pk(id, "WebhookDelivery")
        )
        return WebhookDeliveryPayload(delivery=delivery)
