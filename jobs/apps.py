from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"

    def ready(self) -> None:
        from anymail.signals import tracking

        from jobs.outbound import wake_deliveries
        from jobs.wakeups import wake_at
        from jobs.webhooks import on_tracking
        from tasks.reminders.wakeups import set_waker
        from webhooks.wakeups import set_waker as set_webhook_waker

        # The domain's one seam to the broker: reminders hand their due moments to wake_at
        # after each commit, without importing jobs (django_dramatiq, first in INSTALLED_APPS,
        # has set the broker when its app config was created, before any ready()).
        set_waker(wake_at)
        set_webhook_waker(wake_deliveries)
        tracking.connect(on_tracking, dispatch_uid="jobs.reminder_tracking")
