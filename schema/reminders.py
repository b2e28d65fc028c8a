"""Reminder type, queries and mutations: decode input, call one service, shape the result."""

from datetime import datetime
from enum import Enum

import strawberry
import strawberry_django
from django.db.models import QuerySet
from strawberry import Info, auto, relay

from schema.auth import IsAuthenticated, caller
from schema.errors import FieldError, not_found_error, payload_errors
from schema.fastpath import ColumnField, fast_node_id
from schema.ids import ModelNode, decode_pk
from schema.inputs import given
from tasks.models import Reminder, ReminderState, Task
from tasks.reminders import gate, services
from tasks.reminders.selectors import reminder_visible

ReminderStateEnum = strawberry.enum(ReminderState, name="ReminderState")


@strawberry.enum(name="ReminderWaitingReason")
class ReminderWaitingReasonEnum(Enum):
    EMAIL_UNVERIFIED = gate.EMAIL_UNVERIFIED
    EMAIL_LIMIT = gate.EMAIL_LIMIT


@fast_node_id
@strawberry_django.type(Reminder, name="Reminder", field_cls=ColumnField)
class ReminderType(ModelNode):
    remind_at: auto
    minutes_before: auto = strawberry_django.field(
        description="Set when the reminder follows the task's scheduled time (0: at that time)."
    )
    state: ReminderStateEnum
    attempts: auto
    sent_at: auto = strawberry_django.field(description="When the provider accepted the email.")
    delivery_status: auto = strawberry_django.field(
        description="Last tracking event from the provider: sent, delivered, opened, bounced..."
    )
    last_error: auto = strawberry_django.field(description="Why the last attempt failed.")

    @strawberry_django.field(
        only=["state", "waiting_reason"],
        description="Why a reminder not yet sent is held back, if not only for its time: "
        "EMAIL_UNVERIFIED (sent once your address is verified), EMAIL_LIMIT (your hourly or "
        "daily email cap is reached; sent when it frees).",
    )
    def waiting_reason(self, root: Reminder, info: Info) -> ReminderWaitingReasonEnum | None:
        # Reminders are visible to their owner only: the owner is the caller.
        reason = gate.waiting_reason(root, owner=info.context.request.user)
        return ReminderWaitingReasonEnum(reason) if reason else None

    @classmethod
    def get_queryset(cls, queryset: QuerySet[Reminder], info: Info, **kwargs) -> QuerySet[Reminder]:
        user = info.context.request.user
        return (queryset & reminder_visible(user=user)).order_by("remind_at", "id")


@strawberry.input(one_of=True, description="Exactly one: an absolute time, or minutes before.")
class ReminderAddInput:
    at: datetime | None = strawberry.UNSET
    minutes_before: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="Minutes before the task's scheduled time; moves when the task moves.",
    )


@strawberry.type
class ReminderPayload:
    reminder: ReminderType | None = None
    errors: list[FieldError] = strawberry.field(default_factory=list)


@strawberry.type
class ReminderDeletePayload:
    deleted_id: relay.GlobalID | None = None
    errors: list[FieldError] = strawberry.field(default_factory=list)


@strawberry.type
class ReminderMutation:
    @strawberry.mutation(
        description="Add an email reminder to one of your open tasks.",
        permission_classes=[IsAuthenticated],
    )
    @payload_errors
    def reminder_add(
        self, info: Info, task_id: strawberry.ID, input: ReminderAddInput
    ) -> ReminderPayload:
        pk = decode_pk(task_id, "Task")
        try:
            if pk is None:
                raise Task.DoesNotExist
            reminder = services.reminder_add(
                user=caller(info), task_id=pk, **given(input, "at", "minutes_before")
            )
        except Task.DoesNotExist:
            raise not_found_error("task_id") from None
        return ReminderPayload(reminder=reminder)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @payload_errors
    def reminder_delete(self, info: Info, id: strawberry.ID) -> ReminderDeletePayload:
        pk = decode_pk(id, "Reminder")
        try:
            if pk is None:
                raise Reminder.DoesNotExist
            services.reminder_delete(user=caller(info), reminder_id=pk)
        except Reminder.DoesNotExist:
            raise not_found_error(message="Reminder not found.") from None
        return ReminderDeletePayload(deleted_id=id)
