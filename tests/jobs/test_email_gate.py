"""No reminder email leaves for an unverified address, and none beyond the owner's caps."""

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from jobs.emails import reminder_email
from tasks.models import Reminder, ReminderState
from tasks.reminders.delivery import deliver_batch
from tasks.reminders.dispatch import reminder_dispatch
from tests.factories import TaskFactory, UserFactory
from tests.graphql import GraphQLClient, global_id
from users import accounts

pytestmark = pytest.mark.django_db

WAITING = "{ tasks { edges { node { reminders { state waitingReason } } } } }"


@pytest.fixture
def outbox(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    mail.outbox = []
    return mail.outbox


def due(task, *, seconds_ago: float = 1, state=ReminderState.PENDING) -> Reminder:
    at = timezone.now() - timedelta(seconds=seconds_ago)
    return Reminder.objects.create(task=task, remind_at=at, due_at=at, state=state)


def run_everything(rounds: int = 3) -> None:
    """Every path that sends: the dispatcher (after a restart and not) and the worker."""
    for restart in (True, False) * rounds:
        reminder_dispatch(restart=restart)
        deliver_batch(limit=100, compose=reminder_email)


def reminder_emails(outbox) -> list:
    return [m for m in outbox if "X-Taskgraph-Reminder" in m.extra_headers]


def client_for(user) -> GraphQLClient:
    client = Client()
    client.force_login(user)
    return GraphQLClient(client)


def test_every_way_to_schedule_a_reminder_for_an_unverified_address_sends_nothing(
    outbox, settings, django_capture_on_commit_callbacks
):
    # The attack from the issue: register someone else's address, then schedule reminders.
    victim = UserFactory(email="someone-else@victim.example", email_verified_at=None)
    gql = client_for(victim)
    soon = (timezone.now() + timedelta(minutes=5)).isoformat()
    later = (timezone.now() + timedelta(hours=2)).isoformat()
    create = (
        'mutation($at: DateTime!) { taskCreate(input: {title: "http://spam.example", '
        "scheduledAt: $at}) { task { id } } }"
    )
    with django_capture_on_commit_callbacks(execute=True):
        task_ids = [gql.data(create, {"at": soon})["taskCreate"]["task"]["id"] for _ in range(3)]
        # Aliased reminderAdd in one request, one a second (one reminder per moment and task),
        # up to the per-task maximum on each task.
        start = timezone.now() + timedelta(seconds=60)
        for task_id in task_ids:
            aliases = " ".join(
                f"r{n}: reminderAdd(taskId: $id, input: "
                f'{{at: "{(start + timedelta(seconds=n)).isoformat()}"}}) {{ errors {{ code }} }}'
                for n in range(settings.TASK_MAX_REMINDERS - 2)
            )
            added = gql.data(f"mutation($id: ID!) {{ {aliases} }}", {"id": task_id})
            assert [p for p in added.values() if p["errors"]] == []
        gql.data(
            "mutation($id: ID!) { reminderAdd(taskId: $id, input: {minutesBefore: 1}) "
            "{ errors { code } } }",
            {"id": task_ids[0]},
        )
        gql.data(
            "mutation($id: ID!, $at: DateTime!) { taskUpdate(id: $id, input: {scheduledAt: $at}) "
            "{ errors { code } } }",
            {"id": task_ids[0], "at": later},
        )
        second = TaskFactory(owner=victim)
        gql.data(
            "mutation($id: ID!, $at: DateTime!) { reminderAdd(taskId: $id, input: {at: $at}) "
            "{ errors { code } } }",
            {"id": global_id("Task", second.pk), "at": soon},
        )
    # Time passes: everything is due, some of it long ago, some just now.
    Reminder.objects.update(due_at=timezone.now() - timedelta(minutes=5))
    due(second, seconds_ago=2, state=ReminderState.QUEUED)
    # 3 at the tasks' times, 3 x (maximum - 2) aliased, 1 relative, 2 on the second task.
    assert Reminder.objects.count() == 3 + 3 * (settings.TASK_MAX_REMINDERS - 2) + 1 + 2
    run_everything()

    assert reminder_emails(outbox) == []
    assert set(Reminder.objects.values_list("state", flat=True)) <= {"PENDING", "QUEUED"}
    reasons = {
        r["waitingReason"]
        for edge in gql.data(WAITING)["tasks"]["edges"]
        for r in edge["node"]["reminders"]
    }
    assert reasons == {"EMAIL_UNVERIFIED"}


def test_waiting_reminders_go_out_once_the_address_is_verified(outbox):
    owner = UserFactory(email="late@example.com", email_verified_at=None)
    task = TaskFactory(owner=owner, title="Call the plumber")
    due(task)
    run_everything(1)
    assert reminder_emails(outbox) == []

    accounts.email_verify(token=accounts.email_verification_token(user=owner))
    run_everything(1)
    [message] = reminder_emails(outbox)
    assert message.to == ["late@example.com"]
    assert Reminder.objects.get().state == ReminderState.SENT
    assert client_for(owner).data(WAITING)["tasks"]["edges"][0]["node"]["reminders"] == [
        {"state": "SENT", "waitingReason": None}
    ]


def test_a_reminder_still_unverified_long_after_its_time_fails_visibly(outbox, settings):
    settings.REMINDER_UNVERIFIED_EXPIRY_SECONDS = 3600
    owner = UserFactory(email_verified_at=None)
    task = TaskFactory(owner=owner)
    stale = due(task, seconds_ago=3601)
    fresh = due(task, seconds_ago=3500)
    reminder_dispatch()
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.state, stale.last_error) == (
        ReminderState.FAILED,
        "Not sent: the address was not verified in time.",
    )
    assert fresh.state == ReminderState.QUEUED or fresh.state == ReminderState.PENDING
    assert reminder_emails(outbox) == []


def test_the_hourly_cap_holds_the_overflow_visibly_until_the_window_frees(outbox, settings, user):
    settings.REMINDER_EMAILS_PER_HOUR = 3
    task = TaskFactory(owner=user)
    for n in range(5):
        due(task, seconds_ago=10 - n, state=ReminderState.QUEUED)
    counts = deliver_batch(limit=100, compose=reminder_email)
    assert counts["claimed"] == 3
    assert counts["sent"] == 3
    assert len(reminder_emails(outbox)) == 3
    held = Reminder.objects.filter(state=ReminderState.PENDING).order_by("id")
    assert held.count() == 2
    first_sent = min(Reminder.objects.filter(state="SENT").values_list("sent_at", flat=True))
    for reminder in held:
        assert reminder.waiting_reason == "EMAIL_LIMIT"
        assert reminder.attempts == 0
        # From the claim, a moment before the first send: the window frees an hour after it.
        assert abs(reminder.due_at - (first_sent + timedelta(hours=1))) < timedelta(seconds=5)
    reasons = [
        r["waitingReason"]
        for r in client_for(user).data(WAITING)["tasks"]["edges"][0]["node"]["reminders"]
    ]
    assert sorted(reasons, key=str) == ["EMAIL_LIMIT", "EMAIL_LIMIT", None, None, None]

    # Nothing more within the hour, whatever runs.
    run_everything(1)
    assert len(reminder_emails(outbox)) == 3
    # An hour later the window has room again.
    Reminder.objects.filter(state="SENT").update(
        sent_at=timezone.now() - timedelta(hours=1, seconds=1)
    )
    Reminder.objects.filter(state="PENDING").update(due_at=timezone.now())
    run_everything(1)
    assert len(reminder_emails(outbox)) == 5
    assert set(Reminder.objects.values_list("waiting_reason", flat=True)) == {""}


def test_the_daily_cap_counts_a_day_of_emails(outbox, settings, user):
    settings.REMINDER_EMAILS_PER_DAY = 2
    task = TaskFactory(owner=user)
    earlier = due(task, seconds_ago=7200)
    Reminder.objects.filter(pk=earlier.pk).update(
        state=ReminderState.SENT, sent_at=timezone.now() - timedelta(hours=2)
    )
    due(task, seconds_ago=2, state=ReminderState.QUEUED)
    due(task, seconds_ago=1, state=ReminderState.QUEUED)
    assert deliver_batch(limit=100, compose=reminder_email)["sent"] == 1
    held = Reminder.objects.get(state=ReminderState.PENDING)
    assert held.waiting_reason == "EMAIL_LIMIT"
    assert held.due_at == Reminder.objects.get(pk=earlier.pk).sent_at + timedelta(days=1)


def test_caps_are_per_owner(outbox, settings, user, other_user):
    settings.REMINDER_EMAILS_PER_HOUR = 1
    for owner in (user, other_user):
        task = TaskFactory(owner=owner)
        due(task, state=ReminderState.QUEUED)
        due(task, state=ReminderState.QUEUED)
    assert deliver_batch(limit=100, compose=reminder_email)["sent"] == 2
    assert sorted(m.to[0] for m in reminder_emails(outbox)) == [
        "alice@example.com",
        "mallory@example.com",
    ]
