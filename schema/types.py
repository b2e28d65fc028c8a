"""GraphQL object types: thin projections of the models."""

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
import strawberry_django
from django.db.models import QuerySet
from strawberry import Info, auto, relay

from tasks.models import Task
from tasks.selectors import task_visible
from users.models import User

if TYPE_CHECKING:
    from schema.reminders import ReminderType


@strawberry.enum(name="TaskStatus")
class TaskStatusEnum(Enum):
    OPEN = "OPEN"
    DONE = "DONE"


@strawberry_django.type(User, name="User")
class UserType(relay.Node):
    email: auto
    first_name: auto
    last_name: auto
    timezone: auto = strawberry_django.field(description="IANA time zone name, e.g. Europe/Paris.")

    @classmethod
    def get_queryset(cls, queryset: QuerySet[User], info: Info, **kwargs) -> QuerySet[User]:
        user = info.context.request.user
        if not user.is_authenticated:
            return queryset.none()
        return queryset.filter(pk=user.pk)


@strawberry_django.type(Task, name="Task")
class TaskType(relay.Node):
    title: auto
    description: auto
    scheduled_at: auto
    status: TaskStatusEnum
    completed_at: auto
    created_at: auto
    updated_at: auto
    pre_tasks: list["TaskType"] = strawberry_django.field(
        description="Tasks that must be done before this one."
    )
    dependents: list["TaskType"] = strawberry_django.field(
        description="Tasks that list this one as a pre-task."
    )
    reminders: list[Annotated["ReminderType", strawberry.lazy("schema.reminders")]] = (
        strawberry_django.field(description="Email reminders, by time.")
    )

    @classmethod
    def get_queryset(cls, queryset: QuerySet[Task], info: Info, **kwargs) -> QuerySet[Task]:
        # Applied to every list, node lookup and prefetch of tasks: the owner filter lives here.
        return queryset & task_visible(user=info.context.request.user)
