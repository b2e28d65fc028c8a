from datetime import timedelta

import factory
from django.utils import timezone
from django.utils.timezone import now

from tasks.models import Reminder, ReminderState, Task, TaskDependency
from users.models import User

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    timezone = "UTC"
    # Most tests are about verified accounts; tests/users/test_email_verification.py is not.
    email_verified_at = factory.LazyFunction(now)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    owner = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Task {n}")
    description = ""
    scheduled_at = None


class DoneTaskFactory(TaskFactory):
    status = "DONE"
    completed_at = factory.LazyFunction(timezone.now)


class TaskDependencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaskDependency

    task = factory.SubFactory(TaskFactory)
    pre_task = factory.SubFactory(TaskFactory, owner=factory.SelfAttribute("..task.owner"))


class ReminderFactory(factory.django.DjangoModelFactory):
    """A reminder row written directly (no service, no wake-up): ``due_in`` seconds from now
    (negative: already due), unless ``remind_at`` is given; ``due_at`` follows ``remind_at``."""

    class Meta:
        model = Reminder

    class Params:
        due_in = 3600.0
        # Sent just now by the provider, whose tracking events are still to come.
        sent = factory.Trait(
            remind_at=factory.LazyFunction(timezone.now),
            state=ReminderState.SENT,
            sent_at=factory.SelfAttribute("remind_at"),
            delivery_status="sent",
        )

    task = factory.SubFactory(TaskFactory)
    remind_at = factory.LazyAttribute(lambda o: timezone.now() + timedelta(seconds=o.due_in))
    due_at = factory.SelfAttribute("remind_at")


class DueReminderFactory(ReminderFactory):
    """Queued and due a second ago: the next batch claims it."""

    class Params:
        due_in = -1.0

    state = ReminderState.QUEUED
