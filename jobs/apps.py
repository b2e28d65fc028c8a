from django.apps import AppConfig
from django.conf import settings


class JobsConfig(AppConfig):
    name = "jobs"

    def ready(self) -> None:
        from anymail.signals import tracking

        from jobs.actors import send_account_email
        from jobs.outbound import wake_deliveries
        from jobs.wakeups import wake_at
        from jobs.webhooks import on_tracking
        from tasks.reminders.wakeups import set_waker
        from users.accounts import set_mailer
        from webhooks.wakeups import set_waker as set_webhook_waker

        # The domain's seams to the broker: reminders hand their due moments to wake_at, and
        # accounts their emails (verification, password reset) to send_account_email, after
        # each commit, without importing jobs (django_dramatiq, first in INSTALLED_APPS, has
        # set the broker when its app config was created, before any ready()).
        set_waker(wake_at)
        set_webhook_waker(wake_deliveries)
        set_mailer(send_account_email.send)
        tracking.connect(on_tracking, dispatch_uid="jobs.reminder_tracking")
        if settings.REDIS_URL:
            # Worker processes on Redis sweep the database for what the broker lost.
            import dramatiq

            from jobs.sweeper import ReminderSweeper

            dramatiq.get_broker().add_middleware(ReminderSweeper())
