"""Reminder type, queries and mutations: decode input, call one service, shape the result."""

from datetime import datetime
from enum import Enum

import strawberry
import strawberry_django
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from strawberry import Info, auto, relay

from schema.auth import current_user
from schema.errors import FieldError, field_errors, not_found
from schema.fastpath import ColumnField, fast_node_id
from schema.ids import ModelNode, decode_pk
from tasks import reminders, selectors
from tasks.models import Reminder, Task


@strawberry.enum(name="ReminderState")
class ReminderStateEnum(Enum):
    PENDING = "PENDING"
    QUEUED = "QUEUED"
    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


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

    @classmethod
    def get_queryset(cls, queryset: QuerySet[Reminder], info: Info, **kwargs) -> QuerySet[Reminder]:
        user = info.context.request.user
        return (queryset & reminders.reminder_visible(user=user)).order_by("remind_at", "id")


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
    @strawberry.mutation(description="Add an email reminder to one of your open tasks.")
    def reminder_add(
        self, info: Info, task_id: relay.GlobalID, input: ReminderAddInput
    ) -> ReminderPayload:
        user = current_user(info)
        pk = decode_pk(task_id, "Task")
        with transaction.atomic():
            try:
                task = selectors.task_visible(user=user).select_for_update().get(pk=pk)
            except Task.DoesNotExist:
                return ReminderPayload(errors=not_found("taskId"))
            try:
                reminder = reminders.reminder_add(
                    task=task,
                    at=input.at or None,
                    minutes_before=(
                        None if input.minutes_before is strawberry.UNSET else input.minutes_before
                    ),
                )
            except ValidationError as exc:
                return ReminderPayload(errors=field_errors(exc))
        return ReminderPayload(reminder=reminder)

    @strawberry.mutation
    def reminder_delete(self, info: Info, id: relay.GlobalID) -> ReminderDeletePayload:
        user = current_user(info)
        pk = decode_pk(id, "Reminder")
        try:
            reminder = reminders.reminder_get(user=user, pk=pk) if pk is not None else None
        except Reminder.DoesNotExist:
            reminder = None
        if reminder is None:
            return ReminderDeletePayload(errors=not_found(message="Reminder not found."))
        reminders.reminder_delete(reminder=reminder)
        return ReminderDeletePayload(deleted_id=id)
