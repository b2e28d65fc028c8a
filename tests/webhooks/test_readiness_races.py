"""task.ready exactly once when two changes that free a dependent race each other, on
PostgreSQL, each on its own connection: completions, deletions and edge removals all take the
owner's graph lock, so the second sees what the first committed."""

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection, connections, transaction

from tasks import services
from tasks.models import Task
from tests.conftest import skip_or_fail
from tests.factories import TaskDependencyFactory, TaskFactory
from webhooks import services as webhooks
from webhooks.models import EventType, WebhookEvent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


@pytest.fixture(autouse=True)
def _postgresql_only(db):
    if connection.vendor != "postgresql":
        skip_or_fail("PostgreSQL is not configured: set DATABASE_URL=postgres://...")


@pytest.fixture
def endpoint(user, receiver, stub_broker):
    return webhooks.webhook_create(
        user=user,
        url=receiver.url,
        events=[t.value for t in EventType if t.startswith("task.")],
    ).endpoint


class Change(threading.Thread):
    """Runs one service on a task reloaded on its own connection; with ``release``, holds its
    transaction open after the change until it is set."""

    def __init__(self, change: Callable[[Task], object], pk: int, *, release=None):
        super().__init__()
        self.change, self.pk, self.release = change, pk, release
        self.done = threading.Event()
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            with transaction.atomic():
                self.change(Task.objects.get(pk=self.pk))
                self.done.set()
                if self.release is not None:
                    assert self.release.wait(10)
        except Exception as exc:
            self.error = exc
        finally:
            connections.close_all()


def race(first: Change, second: Change, release: threading.Event) -> None:
    """``first`` changes and holds its transaction; ``second`` must wait for the owner's lock
    until ``first`` commits."""
    first.start()
    assert first.done.wait(10)
    second.start()
    time.sleep(0.5)
    assert second.is_alive() and not second.done.is_set()
    release.set()
    first.join(10)
    second.join(10)
    assert first.error is None and second.error is None


def recorded() -> list[tuple[str, int]]:
    return sorted((e.type, e.data["task"]["id"]) for e in WebhookEvent.objects.all())


def complete(task: Task) -> None:
    services.task_complete(task=task)


def test_two_last_pre_tasks_completed_at_once_free_their_dependent_once(user, endpoint):
    pre, other_pre, dependent = (TaskFactory(owner=user) for _ in range(3))
    TaskDependencyFactory(task=dependent, pre_task=pre)
    TaskDependencyFactory(task=dependent, pre_task=other_pre)
    release = threading.Event()
    race(Change(complete, pre.pk, release=release), Change(complete, other_pre.pk), release)
    assert recorded() == [
        ("task.completed", pre.pk),
        ("task.completed", other_pre.pk),
        ("task.ready", dependent.pk),
    ]


def test_a_pre_task_deleted_while_the_other_is_completed_frees_the_dependent_once(user, endpoint):
    pre, other_pre, dependent = (TaskFactory(owner=user) for _ in range(3))
    TaskDependencyFactory(task=dependent, pre_task=pre)
    TaskDependencyFactory(task=dependent, pre_task=other_pre)
    release = threading.Event()

    def delete(task: Task) -> None:
        services.task_delete(task=task)

    race(Change(delete, pre.pk, release=release), Change(complete, other_pre.pk), release)
    assert recorded() == [
        ("task.completed", other_pre.pk),
        ("task.deleted", pre.pk),
        ("task.ready", dependent.pk),
    ]


def test_an_edge_removed_while_its_pre_task_is_completed_frees_the_dependent_once(user, endpoint):
    pre, dependent = TaskFactory(owner=user), TaskFactory(owner=user)
    TaskDependencyFactory(task=dependent, pre_task=pre)
    release = threading.Event()

    def remove(task: Task) -> None:
        services.task_pre_tasks_remove(task=task, pre_task_ids=[pre.pk])

    race(Change(remove, dependent.pk, release=release), Change(complete, pre.pk), release)
    assert recorded() == [
        ("task.completed", pre.pk),
        ("task.ready", dependent.pk),
        ("task.updated", dependent.pk),
    ]
