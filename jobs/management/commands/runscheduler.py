"""`manage.py runscheduler`: periodiq, enqueuing the periodic actors (the reminder dispatcher)."""

import periodiq
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Run the periodiq scheduler: sends the reminder dispatcher's message every minute. "
        "Run one instance (a second one only doubles the idempotent dispatcher runs)."
    )

    def handle(self, *args, verbosity: int = 1, **options) -> None:
        if not settings.REDIS_URL:
            raise CommandError(
                "REDIS_URL is not set: the scheduler would send to an in-memory broker that no "
                "worker reads. Set REDIS_URL, or use `make run`, which runs the dispatcher "
                "inside the web process."
            )
        argv = ["django_dramatiq.setup", "jobs.actors", *["-v"] * verbosity]
        periodiq.logging.basicConfig(level=periodiq.logging.INFO, format=periodiq.LOGFORMAT)
        raise SystemExit(periodiq.main(periodiq.make_argument_parser().parse_args(argv)))
