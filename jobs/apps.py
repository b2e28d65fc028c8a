import os
import sys

from django.apps import AppConfig
from django.conf import settings


def _is_serving_runserver() -> bool:
    """True in the process that serves `manage.py runserver` requests: the autoreloader's
    child (RUN_MAIN=true), or the only process with --noreload."""
    argv = sys.argv
    if len(argv) < 2 or argv[1] != "runserver":
        return False
    return os.environ.get("RUN_MAIN") == "true" or "--noreload" in argv


class JobsConfig(AppConfig):
    name = "jobs"

    def ready(self) -> None:
        from anymail.signals import tracking

        from jobs.webhooks import on_tracking

        tracking.connect(on_tracking, dispatch_uid="jobs.reminder_tracking")
        embedded = not settings.REDIS_URL and os.environ.get("REMINDERS_EMBEDDED", "1") != "0"
        if embedded and _is_serving_runserver():
            from jobs import embedded as embedded_mode

            embedded_mode.start()
