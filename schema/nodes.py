"""Relay's refetch fields: `node(id:)` and `nodes(ids:)` over every type with a global ID.

Each type's own `get_queryset` decides what the caller may see (the same filter its lists and
single-object fields apply), so another user's object answers null, exactly like a missing one.
"""

import strawberry
from django.db.models import QuerySet
from strawberry import Info, relay
from strawberry_django.optimizer import optimize

from schema.auth import IsAuthenticated
from schema.connections import check_length
from schema.hooks import InboundHookType
from schema.ids import split_global_id
from schema.reminders import ReminderType
from schema.task_types import TaskType
from schema.tokens import ApiTokenType
from schema.user_types import UserType
from schema.webhooks import WebhookDeliveryType, WebhookType

MAX_NODES = 100

# GraphQL type name (the first part of every global ID) -> the Strawberry type.
NODE_TYPES = {
    definition.__strawberry_definition__.name: definition
    for definition in (
        TaskType,
        UserType,
        ReminderType,
        ApiTokenType,
        WebhookType,
        WebhookDeliveryType,
        InboundHookType,
    )
}


def _split(global_id: strawberry.ID) -> tuple[str, int] | tuple[None, None]:
    # Only the canonical spelling of an ID names an object (schema.ids).
    return split_global_id(global_id) or (None, None)


def _visible(type_, pks: list[int], info: Info) -> QuerySet:
    model = type_.__strawberry_django_definition__.model
    queryset = type_.get_queryset(model._default_manager.filter(pk__in=pks), info)
    return optimize(queryset, info)


def _resolve(ids: list[strawberry.ID], info: Info) -> list[object | None]:
    """The visible object behind each ID, in order; None for anything else. One query a type."""
    wanted: dict[str, list[int]] = {}
    for global_id in ids:
        type_name, pk = _split(global_id)
        if type_name in NODE_TYPES:
            wanted.setdefault(type_name, []).append(pk)
    found = {
        (type_name, row.pk): row
        for type_name, pks in wanted.items()
        for row in _visible(NODE_TYPES[type_name], pks, info)
    }
    return [found.get(_split(global_id)) for global_id in ids]


@strawberry.type
class NodeQuery:
    @strawberry.field(
        description="Any object you can see, by its global ID (Relay's refetch); null when "
        "there is none by that ID.",
        permission_classes=[IsAuthenticated],
    )
    def node(self, info: Info, id: strawberry.ID) -> relay.Node | None:
        return _resolve([id], info)[0]

    @strawberry.field(
        description=f"The objects behind these global IDs, in the same order; null for each "
        f"ID that names nothing you can see. At most {MAX_NODES} IDs.",
        permission_classes=[IsAuthenticated],
    )
    def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[relay.Node | None]:
        check_length("ids", ids, MAX_NODES)
        return _resolve(ids, info)
