import queue
import re

import pytest
from django.core import mail
from dramatiq import Message

from jobs import actors


@pytest.fixture
def account_mail(settings, django_capture_on_commit_callbacks):
    """Run what the test's requests queue for the account-email actor, in this process (its
    transaction holds the rows), and return the emails sent so far.

    Usage: `with account_mail.requests(): <requests>`, then `account_mail.sent()`.
    """
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.FRONTEND_URL = "https://app.example.com"
    broker = actors.send_account_email.broker
    broker.flush_all()
    mail.outbox = []

    class AccountMail:
        @staticmethod
        def requests():
            return django_capture_on_commit_callbacks(execute=True)

        @staticmethod
        def sent() -> list:
            pending = broker.queues["default"]
            while True:
                try:
                    data = pending.get_nowait()
                except queue.Empty:
                    break
                # Taken off the queue as a worker would: a later join() must not wait for it.
                pending.task_done()
                message = Message.decode(data)
                if message.actor_name == actors.send_account_email.actor_name:
                    actors.send_account_email.fn(*message.args)
            return mail.outbox

    yield AccountMail()
    broker.flush_all()


def link_in(message, path: str) -> str:
    [url] = re.findall(rf"https://app\.example\.com/{path}\?\S+", message.body)
    return url
