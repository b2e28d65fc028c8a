"""`manage.py runscheduler`: periodiq's clock, enqueuing the periodic actors (the reminder
dispatcher) every minute, retrying its sends through a broker outage (jobs/scheduler.py)."""

import logging

import periodiq
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Run the periodic scheduler: sends the reminder dispatcher's message every minute, "
        "retrying while the broker is unreachable. Run one instance (a second one only "
        "doubles the idempotent dispatcher runs)."
    )

    def handle(self, *args, verbosity: int = 1, **options) -> None:
        if not settings.REDIS_URL:
            raise CommandError(
                "REDIS_URL is not set: the scheduler would send to an in-memory broker that no "
                "worker reads. Set REDIS_URL, or use `make run`, which runs the dispatcher "
                "inside the web process."
            )
        import jobs.actors  # noqa: F401 - declares the periodic actors on the broker
        from jobs.scheduler import run_scheduler

        level = logging.DEBUG if verbosity > 1 else logging.INFO
        logging.basicConfig(level=level, format=periodiq.LOGFORMAT)
        run_scheduler()
