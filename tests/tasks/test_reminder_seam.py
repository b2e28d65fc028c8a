"""The domain reaches the broker through one seam: a waker the jobs app registers at start-up.
Nothing in tasks or users imports jobs or Dramatiq, not even lazily."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from jobs.wakeups import wake_at
from tasks.models import ReminderState
from tasks.reminders import wakeups
from tasks.reminders.services import reminder_add
from tests.factories import TaskFactory

ROOT = Path(__file__).resolve().parent.parent.parent

DOMAIN_WITHOUT_JOBS = """
import importlib, os, pkgutil, sys

os.environ["DJANGO_SETTINGS_MODULE"] = "core.settings"
from django.conf import settings

settings.INSTALLED_APPS = [
    app for app in settings.INSTALLED_APPS if app not in ("jobs", "django_dramatiq")
]
import django

django.setup()
import tasks, users
from datetime import timedelta
from django.core.management import call_command
from django.utils import timezone

for package in (tasks, users):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
# A task with a reminder due soon: its wake-up runs through the seam on commit.
call_command("migrate", verbosity=0)
owner = users.models.User.objects.create_user(email="a@example.com", password="x")
soon = timezone.now() + timedelta(seconds=60)
tasks.services.task_create(owner=owner, title="Soon", scheduled_at=soon)
assert tasks.models.Reminder.objects.get().state == "QUEUED"
background = {"jobs", "dramatiq", "periodiq", "django_dramatiq"}
print(sorted(name for name in sys.modules if name.split(".")[0] in background))
"""


def test_the_domain_imports_and_queues_a_reminder_without_jobs_or_dramatiq(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", DOMAIN_WITHOUT_JOBS],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_jobs_app_registers_its_wake_up_sender_as_the_waker():
    assert wakeups._waker is wake_at


@pytest.fixture
def no_waker():
    wakeups.set_waker(None)
    yield
    wakeups.set_waker(wake_at)


@pytest.mark.django_db
def test_without_a_waker_a_near_reminder_stays_queued_for_the_dispatcher(
    no_waker, django_capture_on_commit_callbacks, caplog
):
    task = TaskFactory()
    soon = timezone.now() + timedelta(seconds=60)

    with django_capture_on_commit_callbacks(execute=True):
        reminder = reminder_add(user=task.owner, task_id=task.pk, at=soon)

    reminder.refresh_from_db()
    assert reminder.state == ReminderState.QUEUED
    assert "No reminder waker registered; the dispatcher will wake 1." in caplog.text
