from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"

    def ready(self) -> None:
        from anymail.signals import tracking

        from jobs.actors import send_account_email
        from jobs.wakeups import wake_at
        from jobs.webhooks import on_tracking
        from tasks.reminders.wakeups import set_waker
        from users.accounts import set_mailer

        # The domain's seams to the broker: reminders hand their due moments to wake_at, and
        # accounts their emails (verification, password reset) to send_account_email, after
        # each commit, without importing jobs (django_dramatiq, first in INSTALLED_APPS, has
        # set the broker when its app config was created, before any ready()).
        set_waker(wake_at)
        set_mailer(send_account_email.send)
        tracking.connect(on_tracking, dispatch_uid="jobs.reminder_tracking")
