"""`make run` without REDIS_URL: the runserver process runs the worker and the dispatcher."""

import os
import signal
import subprocess
import sys
import time

from tests.processes import ROOT, free_port, start_runserver, wait_until

# Seconds from the moment the server is known ready to the reminder's time: enough for the
# setup process to set that time and for the server's dispatcher to wake the reminder; no
# process starts in between.
LEAD_SECONDS = 3

SETUP = f"""
import sys
from datetime import timedelta
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from tasks import services
from tasks.models import Reminder, Task
from users.models import User

call_command("migrate", verbosity=0)
owner = User.objects.create_user(
    email="bob@example.com", password="x", email_verified_at=timezone.now()
)
# BEGIN IMMEDIATE: this process holds SQLite's write lock until the reminder has its time, so
# the server's first dispatcher run (restart=True), which starts with a write, waits for it
# (up to the 20-s SQLite timeout of core/settings.py: the server's system checks, a moment).
with transaction.atomic():
    # Due within the horizon, so queued with a wake-up in this short-lived process's in-memory
    # broker: lost when it exits, as when the server restarts.
    task = services.task_create(
        owner=owner, title="Water the plants", scheduled_at=timezone.now() + timedelta(minutes=1)
    )
    print("queued", flush=True)
    sys.stdin.readline()  # the server is ready
    # The time is set in place: the reminder stays queued since before the server started,
    # which is what the dispatcher's first run takes for lost.
    soon = timezone.now() + timedelta(seconds={LEAD_SECONDS})
    Task.objects.filter(pk=task.pk).update(scheduled_at=soon)
    Reminder.objects.filter(task=task).update(remind_at=soon, due_at=soon)
print("due", soon.timestamp(), flush=True)
"""


def said_until(process: subprocess.Popen, prefix: str) -> str:
    """The first line the process prints that starts with `prefix` (the lines before it in the
    error if it ends first)."""
    before = []
    for line in process.stdout:
        if line.startswith(prefix):
            return line
        before.append(line)
    raise AssertionError("".join(before))


def test_runserver_prints_a_reminder_at_its_time_even_after_a_restart(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "EMAIL_PROVIDER": "console",
        "REDIS_URL": "",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REMINDERS_EMBEDDED", None)
    setup = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", SETUP],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log = tmp_path / "server.log"
    port = free_port(range(18380, 18400))
    server = None
    try:
        said_until(setup, "queued")
        server = start_runserver(port=port, env=env, log=log)
        # The reminder's time counts from here: however long the server took to start, it
        # has started, and its dispatcher waits for the reminder.
        assert wait_until(lambda: b"Quit the server with" in log.read_bytes(), 30), log.read_text()
        setup.stdin.write("ready\n")
        setup.stdin.flush()
        due = float(said_until(setup, "due ").split()[1])

        assert wait_until(lambda: b"Subject: Reminder: Water the plants" in log.read_bytes(), 15)
        printed = time.time()
        time.sleep(0.3)
        assert setup.wait(10) == 0
    finally:
        setup.kill()
        setup.communicate()
        if server is not None:
            server.terminate()
            server.wait(10)
    output = log.read_text()
    assert "Embedded reminder worker and dispatcher started." in output
    assert output.count("Subject: Reminder: Water the plants") == 1
    assert 0 <= printed - due < 1.0, printed - due
    # The link opens GraphiQL on the port this server runs on (jobs/links.py).
    assert f"Open the task: http://127.0.0.1:{port}/graphql/?q=query%20Task" in output


def serve(tmp_path, *args: str, **env: str) -> str:
    """Start `manage.py runserver` (its own process group: the autoreloader's child too), wait
    until it serves, stop it; returns what it printed."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "EMAIL_PROVIDER": "console",
        "REDIS_URL": "",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    log = tmp_path / "server.log"
    port = free_port(range(18380, 18400))
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", *args, f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        assert wait_until(lambda: b"Quit the server with" in log.read_bytes(), 20), log.read_text()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
    return log.read_text()


def test_with_the_autoreloader_only_the_serving_child_starts_the_worker(tmp_path):
    output = serve(tmp_path)
    assert output.count("Embedded reminder worker and dispatcher started.") == 1
    # Started before the server announces itself, so in the process that serves.
    assert output.index("Embedded reminder worker") < output.index("Starting development server")


def test_reminders_embedded_0_serves_without_the_worker(tmp_path):
    output = serve(tmp_path, "--noreload", REMINDERS_EMBEDDED="0")
    assert "Starting development server" in output
    assert "Embedded reminder worker" not in output
