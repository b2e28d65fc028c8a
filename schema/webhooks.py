"""Outbound webhooks: endpoints, their delivery log, redelivery (docs/webhooks.md)."""

from datetime import datetime

import strawberry
from strawberry import Info, relay
from strawberry.scalars import JSON

from schema.auth import IsAuthenticated, caller
from schema.errors import FieldError, payload_errors
from schema.ids import decode_pk
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


@strawberry.type(name="Webhook", description="An endpoint our events are sent to.")
class WebhookType:
    id: relay.GlobalID
    url: str
    events: list[WebhookEventTypeEnum]
    description: str
    enabled: bool
    disabled_reason: str = strawberry.field(description="Why it was disabled, if it was.")
    consecutive_failures: int
    created_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> "WebhookType":
        return cls(
            id=relay.GlobalID("Webhook", str(endpoint.pk)),
            url=endpoint.url,
            events=[EventType(name) for name in endpoint.events],
            description=endpoint.description,
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            consecutive_failures=endpoint.consecutive_failures,
            created_at=endpoint.created_at,
        )


@strawberry.type(name="WebhookAttempt")
class WebhookAttemptType:
    started_at: datetime
    finished_at: datetime
    status_code: int | None = strawberry.field(description="Null: no HTTP answer.")
    error: str
    succeeded: bool


@strawberry.type(name="WebhookDelivery", description="One event sent (or to send) to one endpoint.")
class WebhookDeliveryType:
    id: relay.GlobalID
    webhook_id: str = strawberry.field(
        description="The `webhook-id` header: the same on every attempt; receivers dedupe on it."
    )
    event_type: WebhookEventTypeEnum
    payload: JSON = strawberry.field(description="The event's `data`.")
    state: WebhookDeliveryStateEnum
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str
    created_at: datetime
    succeeded_at: datetime | None
    attempt_log: list[WebhookAttemptType]

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> "WebhookDeliveryType":
        return cls(
            id=relay.GlobalID("WebhookDelivery", str(delivery.pk)),
            webhook_id=delivery.event.webhook_id,
            event_type=EventType(delivery.event.type),
            payload=delivery.event.data,
            state=DeliveryState(delivery.state),
            attempts=delivery.attempts,
            next_attempt_at=(
                delivery.next_attempt_at if delivery.state == DeliveryState.PENDING else None
            ),
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            created_at=delivery.created_at,
            succeeded_at=delivery.succeeded_at,
            attempt_log=[
                WebhookAttemptType(
                    started_at=a.started_at,
                    finished_at=a.finished_at,
                    status_code=a.status_code,
                    error=a.error,
                    succeeded=a.succeeded,
                )
                for a in delivery.attempt_log.all()
            ],
        )


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
        return [WebhookType.of(e) for e in selectors.webhook_list(user=caller(info))]

    @strawberry.field(
        description=f"An endpoint's deliveries, newest first (at most {DELIVERIES_MAX}).",
        permission_classes=[IsAuthenticated],
    )
    def webhook_deliveries(
        self,
        info: Info,
        webhook_id: relay.GlobalID,
        state: WebhookDeliveryStateEnum | None = None,
        first: int = 20,
    ) -> list[WebhookDeliveryType]:
        deliveries = selectors.webhook_delivery_list(
            user=caller(info),
            endpoint_pk=decode_pk(webhook_id, "Webhook"),
            state=state.value if state else None,
            limit=max(0, min(first, DELIVERIES_MAX)),
        )
        return [WebhookDeliveryType.of(d) for d in deliveries]


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
        return WebhookSecretPayload(webhook=WebhookType.of(created.endpoint), secret=created.secret)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @payload_errors
    def webhook_update(
        self, info: Info, id: relay.GlobalID, input: WebhookUpdateInput
    ) -> WebhookPayload:
        endpoint = services.webhook_update(
            user=caller(info), pk=decode_pk(id, "Webhook"), **_values(input)
        )
        return WebhookPayload(webhook=WebhookType.of(endpoint))

    @strawberry.mutation(
        description="A new signing secret, shown only this once; the old one stops at once.",
        permission_classes=[IsAuthenticated],
    )
    @payload_errors
    def webhook_secret_rotate(self, info: Info, id: relay.GlobalID) -> WebhookSecretPayload:
        rotated = services.webhook_secret_rotate(user=caller(info), pk=decode_pk(id, "Webhook"))
        return WebhookSecretPayload(webhook=WebhookType.of(rotated.endpoint), secret=rotated.secret)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @payload_errors
    def webhook_delete(self, info: Info, id: relay.GlobalID) -> WebhookDeletePayload:
        services.webhook_delete(user=caller(info), pk=decode_pk(id, "Webhook"))
        return WebhookDeletePayload(deleted_id=id)

    @strawberry.mutation(
        description="Send a delivery again now, with the same webhook-id.",
        permission_classes=[IsAuthenticated],
    )
    @payload_errors
    def webhook_delivery_retry(self, info: Info, id: relay.GlobalID) -> WebhookDeliveryPayload:
        delivery = services.webhook_delivery_retry(
            user=caller(info), pk=decode_pk(id, "WebhookDelivery")
        )
        delivery = selectors.webhook_delivery_get(user=caller(info), pk=delivery.pk)
        return WebhookDeliveryPayload(delivery=WebhookDeliveryType.of(delivery))
