"""Keyset cursors: pages read while another client inserts and deletes at random."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from tasks.models import Task
from tests.graphql import global_id

pytestmark = pytest.mark.django_db

FORWARD = """
query($after: String, $order: [TaskOrder!]) {
  tasks(first: 50, after: $after, order: $order) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id } }
  }
}
"""
BACKWARD = """
query($before: String, $order: [TaskOrder!]) {
  tasks(last: 50, before: $before, order: $order) {
    pageInfo { hasPreviousPage startCursor }
    edges { node { id } }
  }
}
"""
T0 = datetime(2030, 1, 1, tzinfo=UTC)
ORDERS = {
    "created": None,
    # Half the tasks unscheduled: NULLs last in both directions, ties on the same minute.
    "scheduled": [{"field": "SCHEDULED_AT"}],
    "scheduled-desc": [{"field": "SCHEDULED_AT", "direction": "DESC"}],
    "title-desc-then-scheduled": [
        {"field": "TITLE", "direction": "DESC"},
        {"field": "SCHEDULED_AT"},
    ],
}


def make_tasks(owner, rng: random.Random, count: int) -> list[Task]:
    return Task.objects.bulk_create(
        Task(
            owner=owner,
            title=f"task {rng.randrange(40):02d}",
            scheduled_at=None if rng.random() < 0.5 else T0 + timedelta(minutes=rng.randrange(60)),
        )
        for _ in range(count)
    )


class Interference:
    """Another client: between two page reads, creates 0-10 tasks and deletes 0-10 others."""

    def __init__(self, owner, seed: int) -> None:
        self.owner = owner
        self.rng = random.Random(seed)
        self.deleted: set[str] = set()

    def __call__(self) -> None:
        make_tasks(self.owner, self.rng, self.rng.randrange(11))
        pks = list(Task.objects.filter(owner=self.owner).values_list("pk", flat=True))
        doomed = self.rng.sample(pks, min(len(pks), self.rng.randrange(11)))
        Task.objects.filter(pk__in=doomed).delete()
        self.deleted.update(global_id("Task", pk) for pk in doomed)


@pytest.mark.parametrize("order", ORDERS, ids=list(ORDERS))
def test_reading_1000_tasks_forwards_in_pages_of_50_repeats_and_skips_nothing(user, gql, order):
    initial = {global_id("Task", t.pk) for t in make_tasks(user, random.Random(1), 1000)}
    interfere = Interference(user, seed=2)
    seen: list[str] = []
    after = None
    while True:
        page = gql.data(FORWARD, {"after": after, "order": ORDERS[order]})["tasks"]
        seen.extend(edge["node"]["id"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        interfere()

    existed_throughout = initial - interfere.deleted
    assert len(seen) == len(set(seen)), "a row was repeated"
    assert existed_throughout - set(seen) == set(), "a row was skipped"
    assert len(interfere.deleted & initial) > 50  # the interference was real


@pytest.mark.parametrize("order", ORDERS, ids=list(ORDERS))
def test_reading_1000_tasks_backwards_in_pages_of_50_repeats_and_skips_nothing(user, gql, order):
    initial = {global_id("Task", t.pk) for t in make_tasks(user, random.Random(3), 1000)}
    interfere = Interference(user, seed=4)
    seen: list[str] = []
    before = None
    while True:
        page = gql.data(BACKWARD, {"before": before, "order": ORDERS[order]})["tasks"]
        seen.extend(edge["node"]["id"] for edge in reversed(page["edges"]))
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
        interfere()

    existed_throughout = initial - interfere.deleted
    assert len(seen) == len(set(seen)), "a row was repeated"
    assert existed_throughout - set(seen) == set(), "a row was skipped"


@pytest.mark.parametrize("order", ORDERS, ids=list(ORDERS))
def test_pages_follow_the_documented_order_exactly(user, gql, order):
    make_tasks(user, random.Random(5), 230)
    everything = gql.data(
        "query($order: [TaskOrder!]) { tasks(first: 100, order: $order) { edges { node { id } } } }",
        {"order": ORDERS[order]},
    )
    expected = [e["node"]["id"] for e in everything["tasks"]["edges"]]
    seen, after = [], None
    while len(seen) < 100:
        page = gql.data(FORWARD, {"after": after, "order": ORDERS[order]})["tasks"]
        seen.extend(edge["node"]["id"] for edge in page["edges"])
        after = page["pageInfo"]["endCursor"]
        assert page["totalCount"] == 230

    assert seen == expected
