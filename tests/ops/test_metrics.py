"""Prometheus metrics: what a scrape shows after real requests, messages and reminders."""

import os
import secrets
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.multiprocess import MultiProcessCollector

from core.metrics import operation_label
from jobs import actors
from tasks.models import Reminder, ReminderState
from tests.conftest import run_in_a_worker
from tests.factories import TaskFactory
from tests.processes import ROOT, free_port, wait_until

pytestmark = pytest.mark.django_db

TOKEN = "a-metrics-token-for-tests"
TASK_CREATE = 'mutation TaskCreate { taskCreate(input: {title: "t"}) { task { id } } }'


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client: Client, token: str = TOKEN):
    return client.get("/metrics", headers={"Authorization": f"Bearer {token}"})


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_are_hidden_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404


def test_metrics_need_the_right_bearer_token(client, metrics_token):
    assert client.get("/metrics").status_code == 404
    assert scrape(client, token="wrong").status_code == 404

    response = scrape(client)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")


def test_http_requests_are_counted_and_timed_by_route(client, metrics_token):
    before = sample("taskgraph_http_requests_total", method="GET", route="health/", status="200")
    timed = sample("taskgraph_http_request_duration_seconds_count", method="GET", route="health/")

    client.get("/health/")
    client.get("/health/")
    client.get("/no/such/page/")

    assert (
        sample("taskgraph_http_requests_total", method="GET", route="health/", status="200")
        == before + 2
    )
    assert (
        sample("taskgraph_http_request_duration_seconds_count", method="GET", route="health/")
        == timed + 2
    )
    assert sample("taskgraph_http_requests_total", method="GET", route="unmatched", status="404")


def test_graphql_operations_are_counted_by_name_type_and_outcome(gql, metrics_token):
    labels = {"operation": "TaskCreate", "type": "mutation"}
    ok = sample("taskgraph_graphql_operations_total", **labels, outcome="ok")
    failed = sample(
        "taskgraph_graphql_operations_total", operation="Broken", type="query", outcome="error"
    )

    gql.data(TASK_CREATE)
    gql("query Broken { noSuchField }")

    assert sample("taskgraph_graphql_operations_total", **labels, outcome="ok") == ok + 1
    assert (
        sample(
            "taskgraph_graphql_operations_total", operation="Broken", type="query", outcome="error"
        )
        == failed + 1
    )
    body = scrape(gql.client).content.decode()
    assert 'taskgraph_graphql_operation_duration_seconds_count{operation="TaskCreate"}' in body


def test_client_chosen_operation_names_cannot_multiply_the_series():
    assert operation_label(None) == "anonymous"
    assert operation_label("") == "anonymous"
    assert operation_label('x" } evil') == "invalid"
    assert operation_label("a" * 65) == "invalid"
    assert operation_label("ListTasks") == "ListTasks"


def test_reminders_by_state_and_overdue_are_read_at_scrape_time(client, metrics_token):
    task = TaskFactory()
    now = timezone.now()
    for state, due in [
        (ReminderState.QUEUED, now - timedelta(minutes=5)),
        (ReminderState.QUEUED, now + timedelta(minutes=5)),
        (ReminderState.PENDING, now - timedelta(hours=1)),
        (ReminderState.SENT, now - timedelta(days=1)),
    ]:
        Reminder.objects.create(task=task, remind_at=due, due_at=due, state=state)

    body = scrape(client).content.decode()

    assert 'taskgraph_reminders{state="QUEUED"} 2.0' in body
    assert 'taskgraph_reminders{state="PENDING"} 1.0' in body
    assert 'taskgraph_reminders{state="SENT"} 1.0' in body
    assert 'taskgraph_reminders{state="FAILED"} 0.0' in body
    assert "taskgraph_reminders_overdue 2.0" in body


def test_dramatiq_messages_are_counted_and_timed_by_actor_and_outcome(transactional_db):
    broker = actors.dispatch_reminders.broker
    broker.flush_all()
    before = sample("taskgraph_dramatiq_messages_total", actor="dispatch_reminders", outcome="ok")
    timed = sample("taskgraph_dramatiq_message_duration_seconds_count", actor="dispatch_reminders")
    run_in_a_worker(broker, actors.dispatch_reminders)

    assert (
        sample("taskgraph_dramatiq_messages_total", actor="dispatch_reminders", outcome="ok")
        == before + 1
    )
    assert (
        sample("taskgraph_dramatiq_message_duration_seconds_count", actor="dispatch_reminders")
        == timed + 1
    )


def loopback_queues(local_port: int, remote_port: int) -> tuple[int, int] | None:
    """The send and receive queues (bytes) of the established TCP socket 127.0.0.1:local_port
    -> 127.0.0.1:remote_port, from /proc/net/tcp; None while there is no such socket."""
    local, remote = f"0100007F:{local_port:04X}", f"0100007F:{remote_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1:4] == [local, remote, "01"]:  # 01: ESTABLISHED
            send, receive = fields[4].split(":")
            return int(send, 16), int(receive, 16)
    return None


class HeldWorker:
    """Half a request: the gunicorn (sync) worker that accepts it waits for the rest and serves
    nothing else until ``release()``. Returns once a worker has read it: its bytes all reached
    the server side of the connection (nothing left unacknowledged here), and no byte is
    left unread there."""

    def __init__(self, port: int) -> None:
        self.connection = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.connection.sendall(b"GET /health/live/ HTTP/1.0\r\nHost: 127.0.0.1\r\n")
        ours = self.connection.getsockname()[1]

        def read_by_a_worker() -> bool:
            sent, server = loopback_queues(ours, port), loopback_queues(port, ours)
            return sent is not None and sent[0] == 0 and server is not None and server[1] == 0

        assert wait_until(read_by_a_worker, 30)

    def release(self) -> None:
        with self.connection:
            self.connection.sendall(b"\r\n")
            response = self.connection.makefile("rb").read()
        assert response.startswith(b"HTTP/1.0 200 OK"), response

    def __enter__(self) -> "HeldWorker":
        return self

    def __exit__(self, *exc_info) -> None:
        self.connection.close()  # a worker still held gets end-of-file and is free again


def worker_counts(directory: Path, name: str, **labels: str) -> list[float]:
    """Each worker process's own value of a counter, from its file alone."""
    return sorted(
        sum(
            sample.value
            for metric in MultiProcessCollector.merge([str(path)])
            for sample in metric.samples
            if sample.name == name and sample.labels == labels
        )
        for path in directory.glob("counter_*.db")
    )


def test_gunicorn_workers_add_up_in_one_scrape(tmp_path):
    """Two gunicorn workers, PROMETHEUS_MULTIPROC_DIR: a scrape counts every worker's requests.

    Each worker answers five of the ten /health/ requests: the other one is held meanwhile by
    a connection that sent half a request (a sync worker serves one connection at a time).
    The broker is a socket that never answers and the cache a closed port, so readiness
    probes fail. (An empty CACHE_URL would mean unset, that is REDIS_URL's socket.)"""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    with socket.socket() as closed:  # the cache: a port nobody listens on (fails at once)
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": f"redis://127.0.0.1:{silent.getsockname()[1]}/0",
        "CACHE_URL": f"redis://127.0.0.1:{closed_port}/0",
        "METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "WEB_CONCURRENCY": "2",
    }
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, capture_output=True
    )
    assert migrate.returncode == 0, migrate.stderr
    port = free_port(range(18420, 18440))
    env["GUNICORN_BIND"] = f"127.0.0.1:{port}"
    with open(tmp_path / "gunicorn.log", "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "core.wsgi:application"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def get(path: str, **headers) -> int | bytes:
        request = urllib.request.Request(base + path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            return exc.code

    def up() -> bool:
        try:
            get("/health/live/")
            return True
        except OSError:
            return False

    try:
        assert wait_until(up, 20), (tmp_path / "gunicorn.log").read_text()
        with ExitStack() as holds:
            first = holds.enter_context(HeldWorker(port))
            # Only the other worker can answer now: once it has, both have loaded the app.
            assert wait_until(up, 20), (tmp_path / "gunicorn.log").read_text()
            for _ in range(5):
                get("/health/")
            # Read by the worker that just answered, as the other one is held.
            second = holds.enter_context(HeldWorker(port))
            first.release()
            for _ in range(5):
                get("/health/")
            second.release()
        # At once: each waits the probe's 1 s for the silent broker.
        with ThreadPoolExecutor(2) as pool:
            assert list(pool.map(lambda _: get("/health/ready/"), range(2))) == [503, 503]
        body = get("/metrics", Authorization=f"Bearer {TOKEN}").decode()
    finally:
        server.terminate()
        server.wait(10)
        silent.close()
    assert 'taskgraph_http_requests_total{method="GET",route="health/",status="200"} 10.0' in body
    ready = 'taskgraph_http_requests_total{method="GET",route="health/ready/",status="503"} 2.0'
    assert ready in body
    pids = {path.name.rsplit("_", 1)[-1] for path in (tmp_path / "metrics").glob("counter_*.db")}
    assert len(pids) == 2, pids
    each = worker_counts(
        tmp_path / "metrics",
        "taskgraph_http_requests_total",
        method="GET",
        route="health/",
        status="200",
    )
    assert each == [5.0, 5.0]


def test_each_operation_observes_the_cost_it_added_to_the_request(rf):
    """The limits layer's contract: it adds each operation's cost to request.graphql_cost."""
    import strawberry
    from strawberry.extensions import SchemaExtension

    from schema.observability import Observability

    class Pricing(SchemaExtension):  # what the limits layer does, per operation
        def on_execute(self):
            request = self.execution_context.context.request
            request.graphql_cost = getattr(request, "graphql_cost", 0) + 7
            yield

    @strawberry.type
    class Query:
        @strawberry.field
        def ping(self) -> str:
            return "pong"

    schema = strawberry.Schema(query=Query, extensions=[Observability, Pricing])
    request = rf.post("/graphql/")
    context = type("Context", (), {"request": request})()
    count = sample("taskgraph_graphql_operation_cost_count", operation="Priced")
    total = sample("taskgraph_graphql_operation_cost_sum", operation="Priced")

    for _ in range(2):  # two operations of one batch share the request
        assert schema.execute_sync("query Priced { ping }", context_value=context).errors is None

    assert request.graphql_cost == 14
    assert sample("taskgraph_graphql_operation_cost_count", operation="Priced") == count + 2
    assert sample("taskgraph_graphql_operation_cost_sum", operation="Priced") == total + 14
