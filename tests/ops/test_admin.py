"""The admin: every changelist costs the same queries at 5 rows and at 50; reminders can be
sent again through the normal pipeline."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from dramatiq.common import dq_name

from jobs import actors
from jobs.emails import reminder_email
from tasks.models import Reminder, ReminderState
from tasks.reminders.delivery import deliver_batch
from tests.factories import TaskDependencyFactory, TaskFactory, UserFactory
from users.services import api_token_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    client = Client()
    client.force_login(UserFactory(email="root@example.com", is_staff=True, is_superuser=True))
    return client


def make_rows(n: int) -> None:
    """n users, each with a task that has a pre-task, a reminder and an API token."""
    now = timezone.now()
    for _ in range(n):
        owner = UserFactory()
        edge = TaskDependencyFactory(task__owner=owner)
        Reminder.objects.create(
            task=edge.task, remind_at=now + timedelta(days=1), due_at=now + timedelta(days=1)
        )
        api_token_create(user=owner, name="ci", scopes=["READ"])


def queries_for(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


CHANGELISTS = [
    "/admin/tasks/task/",
    "/admin/tasks/reminder/",
    "/admin/tasks/taskdependency/",
    "/admin/users/user/",
    "/admin/users/apitoken/",
]


def test_changelist_queries_do_not_grow_with_the_rows(staff):
    make_rows(5)
    at_5 = {url: queries_for(staff, url) for url in CHANGELISTS}
    make_rows(45)
    at_50 = {url: queries_for(staff, url) for url in CHANGELISTS}

    assert at_50 == at_5
    assert max(at_5.values()) <= 8, at_5


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/admin/tasks/task/?q=Task&status__exact=OPEN", 6),  # each row: a task, a pre-task
        ("/admin/tasks/task/?status__exact=DONE", 0),
        ("/admin/tasks/reminder/?q=example.com&state__exact=PENDING", 3),
        ("/admin/tasks/reminder/?state__exact=SENT", 0),
        ("/admin/users/user/?q=example.com&is_staff__exact=0", 3),
        ("/admin/users/apitoken/?q=ci&revoked_at__isnull=True", 3),
    ],
)
def test_changelists_search_and_filter(staff, url, expected):
    make_rows(3)

    response = staff.get(url)

    assert response.status_code == 200
    assert response.context["cl"].result_count == expected


def test_a_task_page_shows_its_pre_tasks_and_reminders_inline(staff):
    task = TaskFactory(title="Paint the fence")
    TaskDependencyFactory(task=task, pre_task__title="Buy paint")
    at = timezone.now() + timedelta(days=2)
    Reminder.objects.create(task=task, remind_at=at, due_at=at)

    page = staff.get(f"/admin/tasks/task/{task.pk}/change/").content.decode()

    assert "Pre-tasks (must be done first)" in page
    assert "Buy paint" in page or f'value="{task.pre_tasks.get().pk}"' in page
    assert 'name="reminders-TOTAL_FORMS" value="1"' in page


def test_send_again_rearms_a_sent_reminder_and_the_worker_sends_it(
    staff, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    broker = actors.deliver_due_reminders.broker
    broker.flush_all()
    task = TaskFactory(title="Call the plumber")
    sent_at = timezone.now() - timedelta(hours=1)
    reminder = Reminder.objects.create(
        task=task,
        remind_at=sent_at,
        due_at=sent_at,
        state=ReminderState.SENT,
        attempts=1,
        version=3,
        sent_at=sent_at,
        message_id="old-id",
        delivery_status="delivered",
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            "/admin/tasks/reminder/",
            {"action": "send_again", "_selected_action": [reminder.pk]},
            follow=True,
        )

    assert "1 reminder(s) queued to be sent again." in response.content.decode()
    reminder.refresh_from_db()
    assert reminder.state == ReminderState.QUEUED
    assert reminder.attempts == 0
    assert reminder.version == 4
    assert (reminder.sent_at, reminder.message_id, reminder.delivery_status) == (None, "", "")
    assert timezone.now() - reminder.due_at < timedelta(seconds=5)
    queue = actors.deliver_due_reminders.queue_name
    # Due now: sent at once, or delayed until the next 50 ms wake-up slot.
    [wake_up] = [*broker.queues[queue].queue, *broker.queues[dq_name(queue)].queue]
    assert b"deliver_due_reminders" in wake_up
    broker.flush_all()

    mail.outbox = []
    assert deliver_batch(limit=10, compose=reminder_email)["sent"] == 1
    [email] = mail.outbox
    assert email.subject.startswith("Reminder: Call the plumber")
    reminder.refresh_from_db()
    assert reminder.state == ReminderState.SENT


def test_send_again_leaves_a_reminder_being_sent_alone(staff):
    task = TaskFactory()
    now = timezone.now()
    sending = Reminder.objects.create(
        task=task, remind_at=now, due_at=now, state=ReminderState.SENDING, version=2
    )

    response = staff.post(
        "/admin/tasks/reminder/",
        {"action": "send_again", "_selected_action": [sending.pk]},
        follow=True,
    )

    assert "1 reminder(s) are being sent right now: left alone." in response.content.decode()
    sending.refresh_from_db()
    assert (sending.state, sending.version) == (ReminderState.SENDING, 2)
