"""Concurrent graph edits on PostgreSQL, each on its own connection: edges added at the same
moment can never close a cycle together, because graph writes are serialized per owner."""

import threading
import time

import pytest
from django.db import connection, connections, transaction

from tasks import services
from tasks.models import Task, TaskDependency
from tests.conftest import skip_or_fail
from tests.factories import TaskFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


@pytest.fixture(autouse=True)
def _postgresql_only(db):
    if connection.vendor != "postgresql":
        skip_or_fail("PostgreSQL is not configured: set DATABASE_URL=postgres://...")


class Attempt(threading.Thread):
    """Adds one pre-task on its own database connection; optionally holds the transaction
    open until `release` is set, so another attempt can run into the lock."""

    def __init__(self, task_pk: int, pre_task_pk: int, *, release: threading.Event | None = None):
        super().__init__()
        self.task_pk, self.pre_task_pk, self.release = task_pk, pre_task_pk, release
        self.start_gate = threading.Event()
        self.added = threading.Event()
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            self.start_gate.wait(10)
            with transaction.atomic():
                task = Task.objects.get(pk=self.task_pk)
                services.task_pre_tasks_add(task=task, pre_task_ids=[self.pre_task_pk])
                self.added.set()
                if self.release is not None:
                    self.release.wait(10)
        except Exception as exc:
            self.error = exc
        finally:
            connections.close_all()


def test_a_to_b_and_b_to_a_cannot_both_succeed_when_they_overlap():
    owner = UserFactory()
    a, b = TaskFactory(owner=owner, title="A"), TaskFactory(owner=owner, title="B")
    release = threading.Event()
    first = Attempt(b.pk, a.pk, release=release)  # A before B, held open
    second = Attempt(a.pk, b.pk)  # B before A
    first.start()
    second.start()
    first.start_gate.set()
    assert first.added.wait(10)
    second.start_gate.set()
    # The second waits on the owner's lock while the first is uncommitted.
    time.sleep(0.5)
    assert second.is_alive() and not second.added.is_set()
    release.set()
    first.join(10)
    second.join(10)
    assert first.error is None
    assert isinstance(second.error, services.PreTaskCycleError)
    assert second.error.cycle == [(b.pk, "B"), (a.pk, "A"), (b.pk, "B")]
    assert list(TaskDependency.objects.values_list("pre_task__title", "task__title")) == [
        ("A", "B")
    ]


@pytest.mark.parametrize("round_", range(3))
def test_a_three_task_loop_raced_from_three_connections_never_closes(round_):
    owner = UserFactory()
    a, b, c = (TaskFactory(owner=owner, title=t) for t in "ABC")
    attempts = [Attempt(b.pk, a.pk), Attempt(c.pk, b.pk), Attempt(a.pk, c.pk)]
    for attempt in attempts:
        attempt.start()
    for attempt in attempts:
        attempt.start_gate.set()
    for attempt in attempts:
        attempt.join(10)
    errors = [attempt.error for attempt in attempts if attempt.error is not None]
    assert len(errors) == 1
    assert isinstance(errors[0], services.PreTaskCycleError)
    assert TaskDependency.objects.count() == 2


def test_other_owners_graph_writes_do_not_wait_for_each_other():
    alice, bob = UserFactory(), UserFactory()
    a1, a2 = TaskFactory(owner=alice), TaskFactory(owner=alice)
    b1, b2 = TaskFactory(owner=bob), TaskFactory(owner=bob)
    release = threading.Event()
    holder = Attempt(a2.pk, a1.pk, release=release)
    other = Attempt(b2.pk, b1.pk)
    holder.start()
    other.start()
    holder.start_gate.set()
    assert holder.added.wait(10)
    other.start_gate.set()
    other.join(5)
    assert not other.is_alive() and other.error is None
    release.set()
    holder.join(10)
    assert holder.error is None
    assert TaskDependency.objects.count() == 2
