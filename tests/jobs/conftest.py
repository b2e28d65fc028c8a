import shutil
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils.module_loading import import_string
from dramatiq.brokers.redis import RedisBroker

from core.broker import MIDDLEWARE
from jobs import actors
from tests.conftest import skip_or_fail
from tests.processes import SMTP_PORTS, RedisServer, SMTPServer, WorkerProcess, free_port
from tests.providers import ResendServer

ACTORS = (actors.deliver_due_reminders, actors.dispatch_reminders)


@pytest.fixture(scope="session")
def smtp_server():
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def inbox(smtp_server):
    smtp_server.inbox.reset()
    yield smtp_server.inbox
    smtp_server.inbox.reset()


@pytest.fixture
def smtp_email(settings, smtp_server):
    """The test process sends through the SMTP backend of EMAIL_PROVIDER=smtp to the loopback
    server."""
    settings.EMAIL_BACKEND = "core.email.SMTPBackend"  # what EMAIL_PROVIDER=smtp uses
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5


@pytest.fixture
def resend(settings):
    """The test process sends through core.email.ResendBackend to a Resend API on loopback."""
    server = ResendServer(port=free_port(SMTP_PORTS), latency_s=0)
    server.start()
    settings.EMAIL_BACKEND = "core.email.ResendBackend"
    settings.ANYMAIL = {**settings.ANYMAIL, "RESEND_API_KEY": server.token}
    settings.ANYMAIL["RESEND_API_URL"] = server.url
    yield server
    server.stop()


def _postgres_url() -> str:
    params = connection.settings_dict
    auth = quote(params["USER"] or "")
    if params["PASSWORD"]:
        auth += ":" + quote(params["PASSWORD"])
    return (
        f"postgres://{auth}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}"
        f"/{params['NAME']}"
    )


@pytest.fixture(scope="module")
def postgres(django_db_setup, django_db_blocker):
    """The worker processes share the test database: it must be PostgreSQL."""
    if connection.vendor != "postgresql":
        skip_or_fail("worker-process tests need PostgreSQL: set DATABASE_URL")
    return _postgres_url()


@pytest.fixture(scope="module")
def redis_server():
    if shutil.which("redis-server") is None:
        skip_or_fail("redis-server is not installed")
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_broker(redis_server):
    """Messages the test process sends (on_commit wake-ups, the dispatcher) go to the private
    Redis, as they would from a web process configured with REDIS_URL."""
    broker = RedisBroker(
        url=redis_server.url, middleware=[import_string(path)() for path in MIDDLEWARE]
    )
    previous = [actor.broker for actor in ACTORS]
    for actor in ACTORS:
        actor.broker = broker
        broker.declare_actor(actor)
    yield broker
    for actor, old in zip(ACTORS, previous, strict=True):
        actor.broker = old
    broker.close()


@pytest.fixture(scope="module")
def worker(postgres, redis_server, smtp_server, tmp_path_factory):
    process = WorkerProcess(
        env={
            "DATABASE_URL": postgres,
            "REDIS_URL": redis_server.url,
            "EMAIL_PROVIDER": "smtp",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_server.port),
            "EMAIL_TIMEOUT": "5",
            # These tests run the dispatcher themselves, at chosen moments: no sweeper between.
            "REMINDER_SWEEP_SECONDS": "3600",
            "REMINDER_RETRY_BACKOFF_MS": "300",
            # These tests send dozens of reminders to one owner at once: no email caps.
            "REMINDER_EMAILS_PER_HOUR": "0",
            "REMINDER_EMAILS_PER_DAY": "0",
            "dramatiq_worker_timeout": "100",
            "DRAMATIQ_NTHREADS": "4",
        },
        log=tmp_path_factory.mktemp("worker") / "worker.log",
    )
    process.start(redis_server.url)
    yield process
    process.stop()
