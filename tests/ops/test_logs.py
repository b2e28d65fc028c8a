"""Structured logs: request ids, user ids, operation names, and no secret ever written."""

import io
import json
import logging
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from hypothesis import example, given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from core import logs
from jobs.emails import reminder_email
from tasks.models import Reminder, ReminderState
from tasks.reminders.delivery import deliver_batch
from tests.factories import TaskFactory, UserFactory
from tests.graphql import GraphQLClient

pytestmark = pytest.mark.django_db

REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) { user { id } errors { field message code } }
}
"""
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { user { email } errors { field message code } }
}
"""
LOGOUT = "mutation Logout { logout { ok } }"
TOKEN_CREATE = """
mutation TokenCreate($input: ApiTokenCreateInput!) {
  apiTokenCreate(input: $input) { secret errors { field message code } }
}
"""
PASSWORD_CHANGE = """
mutation Change($old: String!, $new: String!) {
  passwordChange(oldPassword: $old, newPassword: $new) { user { email } errors { field code } }
}
"""
TASK_CREATE = """
mutation TaskCreate { taskCreate(input: {title: "from a script"}) { task { id } errors { code } } }
"""
ME = "query Me { me { email } }"


@pytest.fixture
def log_lines():
    """Everything the project logs, at DEBUG, through the production handler and (JSON)
    formatter."""
    buffer = io.StringIO()
    handler = logs.LineHandler(buffer)
    handler.setFormatter(logs.formatter(json=True))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)

    def lines() -> list[dict]:
        return [json.loads(line) for line in buffer.getvalue().splitlines()]

    lines.text = buffer.getvalue
    yield lines
    root.removeHandler(handler)
    root.setLevel(level)


def test_every_line_of_a_request_carries_its_request_id_user_and_operation(user, log_lines):
    client = Client()
    client.force_login(user)
    gql = GraphQLClient(client)

    response = gql.post(TASK_CREATE, **{"X-Request-ID": "req-1234"})

    assert response.status_code == 200
    assert response["X-Request-ID"] == "req-1234"
    [line] = [line for line in log_lines() if line["logger"] == "taskgraph.request"]
    assert line["request_id"] == "req-1234"
    assert line["user_id"] == user.pk
    assert line["graphql_operation"] == "TaskCreate"
    assert line["route"] == "graphql/"
    assert line["status"] == 200
    assert line["level"] == "info"
    assert line["event"] == "request"


def test_a_request_without_a_sane_id_gets_a_fresh_one(client, log_lines):
    first = client.get("/health/", HTTP_X_REQUEST_ID='evil"\n{"forged": 1}')
    second = client.get("/health/")

    ids = [first["X-Request-ID"], second["X-Request-ID"]]
    assert all(len(request_id) == 32 for request_id in ids)
    assert ids[0] != ids[1]
    assert [line["request_id"] for line in log_lines()] == ids
    assert "forged" not in log_lines.text()


def test_development_logs_are_readable_lines(client):
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logs.formatter(json=False))
    logging.getLogger("taskgraph.request").addHandler(handler)
    try:
        client.get("/health/", HTTP_X_REQUEST_ID="dev-1")
    finally:
        logging.getLogger("taskgraph.request").removeHandler(handler)

    [line] = buffer.getvalue().splitlines()
    assert "request" in line and "request_id=dev-1" in line and "status=200" in line
    assert not line.startswith("{")


def test_development_logs_print_plain_tracebacks_without_local_variables():
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logs.formatter(json=False))
    logger = logging.getLogger("taskgraph.test_tracebacks")
    logger.addHandler(handler)

    def sign_in():
        password = "correct-horse-battery"  # noqa: F841 (a local a traceback could show)
        raise ValueError("refused")

    try:
        sign_in()
    except ValueError:
        logger.exception("sign_in_failed")
    finally:
        logger.removeHandler(handler)

    text = buffer.getvalue()
    assert "sign_in_failed" in text
    assert "Traceback (most recent call last):" in text
    assert text.rstrip().endswith("ValueError: refused")
    assert "correct-horse-battery" not in text


def test_no_password_token_or_session_key_is_ever_logged(log_lines):
    """The account and token flows, logged at DEBUG: none of their secrets in the log."""
    first_password = "first secret passphrase 41"
    second_password = "second secret passphrase 42"
    email = "carol@example.com"
    browser = Client()
    gql = GraphQLClient(browser)

    registered = gql.data(
        REGISTER, {"input": {"email": email, "password": first_password, "timezone": "UTC"}}
    )
    assert registered["register"]["errors"] == []
    gql.data(LOGOUT)
    wrong = gql.data(LOGIN, {"email": email, "password": "a wrong guess 99"})
    assert wrong["login"]["errors"]
    assert gql.data(LOGIN, {"email": email, "password": first_password})["login"]["errors"] == []
    session_key = browser.cookies[settings.SESSION_COOKIE_NAME].value
    secret = gql.data(TOKEN_CREATE, {"input": {"name": "ci", "scopes": ["WRITE"]}})[
        "apiTokenCreate"
    ]["secret"]
    script = GraphQLClient(Client())
    for _ in range(2):
        response = script.post(TASK_CREATE, Authorization=f"Bearer {secret}")
        assert response.json()["data"]["taskCreate"]["errors"] == []
    rejected = script.post(ME, Authorization=f"Bearer {secret[:-4]}abcd")
    assert rejected.status_code == 401
    changed = gql.data(PASSWORD_CHANGE, {"old": first_password, "new": second_password})
    assert changed["passwordChange"]["errors"] == []
    weak = gql.data(PASSWORD_CHANGE, {"old": second_password, "new": "123"})
    assert weak["passwordChange"]["errors"]
    logging.getLogger("anywhere").info(
        "a careless line", extra={"password": first_password, "headers": {"Cookie": session_key}}
    )
    logging.getLogger("anywhere").warning("Authorization: Bearer %s failed", secret)

    text = log_lines.text()
    lines = log_lines()
    assert len([line for line in lines if line["event"] == "request"]) == 10
    assert {line.get("graphql_operation") for line in lines} >= {
        "Register",
        "Login",
        "TokenCreate",
        "TaskCreate",
        "Change",
    }
    for secret_value in (first_password, second_password, secret, secret[3:], session_key):
        assert secret_value not in text
    assert "a wrong guess 99" not in text
    assert '"password": "[redacted]"' in text
    assert "Bearer [redacted] failed" in text


def test_reminder_deliveries_log_their_ids_and_outcomes(settings, log_lines):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    now = timezone.now()
    good = TaskFactory(owner=UserFactory(email="dana@example.com"))
    bad = TaskFactory(owner=UserFactory(email="not an address"))
    sent = Reminder.objects.create(
        task=good, remind_at=now - timedelta(seconds=2), due_at=now, state=ReminderState.QUEUED
    )
    failed = Reminder.objects.create(
        task=bad, remind_at=now, due_at=now - timedelta(seconds=1), state=ReminderState.QUEUED
    )
    lateness_count = REGISTRY.get_sample_value("taskgraph_reminder_lateness_seconds_count")

    assert deliver_batch(limit=10, compose=reminder_email)["sent"] == 1

    deliveries = [line for line in log_lines() if line["event"] == "reminder_delivery"]
    assert [(line["reminder_id"], line["task_id"], line["outcome"]) for line in deliveries] == [
        (failed.pk, bad.pk, "failed"),
        (sent.pk, good.pk, "sent"),
    ]
    assert deliveries[0]["level"] == "warning"
    assert deliveries[0]["error"].startswith("AnymailInvalidAddress")
    assert deliveries[1]["attempt"] == 1
    assert deliveries[1]["provider_message_id"] == Reminder.objects.get(pk=sent.pk).message_id
    assert deliveries[1]["lateness_s"] >= 2
    assert REGISTRY.get_sample_value("taskgraph_reminder_lateness_seconds_count") == (
        lateness_count + 1
    )


@given(
    st.lists(
        st.sampled_from(
            [*"ab =;_:.\t\n", "Bearer ", "basic ", "tg_", "sessionid", "CSRFtoken", "xyz12345"]
        ),
        max_size=12,
    ).map("".join)
)
@example("basic xyz12345")
@example("x Bearer\tab")
@example("tg_xyz12345xyz12345")
@example("CSRFtoken=ab;")
@example("a sessionid=xyz12345 b")
def test_the_secret_precheck_skips_only_text_no_pattern_changes(text):
    substituted = text
    for pattern, replacement in logs.SECRET_PATTERNS:
        substituted = pattern.sub(replacement, substituted)
    assert logs._scrub(text) == substituted
    if substituted != text:
        assert logs.MAYBE_SECRET.search(text)


class _Writes(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def write(self, text: str) -> int:
        self.calls.append(text)
        return super().write(text)


def test_each_line_is_written_whole_newline_included():
    # Processes sharing a stderr (gunicorn workers, a Dramatiq worker's pipe to its parent)
    # cannot split a line from its newline.
    stream = _Writes()
    handler = logs.LineHandler(stream)
    handler.setFormatter(logs.formatter(json=True))
    logger = logging.getLogger("tests.line")
    logger.addHandler(handler)
    try:
        logger.warning("first")
        logger.warning("second")
    finally:
        logger.removeHandler(handler)
    assert [json.loads(call)["event"] for call in stream.calls] == ["first", "second"]
    assert all(call.endswith("}\n") and call.count("\n") == 1 for call in stream.calls)
    assert settings.LOGGING["handlers"]["console"]["class"] == "core.logs.LineHandler"
