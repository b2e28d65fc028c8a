"""`manage.py runserver`, plus the embedded reminder worker and dispatcher (no REDIS_URL).

It extends staticfiles' runserver (which extends Django's), the way staticfiles extends the
core one; ``jobs`` comes before ``django.contrib.staticfiles`` in INSTALLED_APPS so that this
command wins. ``inner_run`` is the part that serves requests: it runs in the autoreloader's child
process (never in the parent that only watches files) or, with --noreload, in the only process.
"""

from django.contrib.staticfiles.management.commands.runserver import (
    Command as StaticfilesRunserverCommand,
)
from django.utils import autoreload

from jobs import embedded, links


class Command(StaticfilesRunserverCommand):
    help = (
        "Starts a lightweight web server for development, serves static files and, without "
        "REDIS_URL, runs the reminder worker and dispatcher in the same process "
        "(REMINDERS_EMBEDDED=0 turns them off)."
    )

    def inner_run(self, *args, **options) -> None:
        # An error while loading the apps is re-raised here in the child process, as Django
        # does first thing in its own inner_run: do not start the worker on a broken project.
        autoreload.raise_last_exception()
        links.serving_at(addr=self.addr, port=self.port, ipv6=self.use_ipv6, protocol=self.protocol)
        if embedded.enabled():
            embedded.start()
        super().inner_run(*args, **options)
