"""`make run` without REDIS_URL: the runserver process runs the worker and the dispatcher."""

import os
import signal
import subprocess
import sys
import time

from tests.processes import ROOT, free_port, wait_until

SETUP = """
from datetime import timedelta
from django.core.management import call_command
from django.utils import timezone
from tasks import services
from users.models import User

call_command("migrate", verbosity=0)
owner = User.objects.create_user(
    email="bob@example.com", password="x", email_verified_at=timezone.now()
)
soon = timezone.now() + timedelta(seconds=6)
# Queued with a wake-up in this short-lived process's in-memory broker: lost when it exits,
# as when the server restarts.
services.task_create(owner=owner, title="Water the plants", scheduled_at=soon)
print(soon.timestamp())
"""


def test_runserver_prints_a_reminder_at_its_time_even_after_a_restart(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "EMAIL_PROVIDER": "console",
        "REDIS_URL": "",
    }
    env.pop("REMINDERS_EMBEDDED", None)
    setup = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SETUP],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert setup.returncode == 0, setup.stderr
    due = float(setup.stdout.strip().splitlines()[-1])
    log = tmp_path / "server.log"
    port = free_port(range(18380, 18400))
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        assert wait_until(lambda: b"Subject: Reminder: Water the plants" in log.read_bytes(), 15)
        printed = time.time()
        time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(10)
    output = log.read_text()
    assert "Embedded reminder worker and dispatcher started." in output
    assert output.count("Subject: Reminder: Water the plants") == 1
    assert printed - due < 1.0
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
