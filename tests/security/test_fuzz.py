"""Schemathesis generates GraphQL operations (valid and invalid) from the live schema and sends
them, with a WRITE API token and with a cookie session, through the real WSGI stack.

No response may be a 5xx or an authentication failure, and no resolver may raise an
unexpected exception (those are logged by strawberry.execution and answered as
"Internal error" with masking on).
"""

import base64
import logging
import os

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.graphql import nodes

from schema.limits import INTERNAL_ERROR
from schema.schema import schema as graphql_schema
from tests.factories import DoneTaskFactory, TaskDependencyFactory, TaskFactory, UserFactory
from tests.security.tokens import token_for
from users.models import ApiToken

pytestmark = [pytest.mark.django_db(transaction=False), pytest.mark.fuzz]

# Per root field: through an API token (most of the API), then through a cookie session
# (the account mutations that tokens may not call: login, register, passwordChange, ...).
NEGATIVE = GenerationMode.NEGATIVE  # invalid arguments and values, not just valid ones
# CI replays the same cases every run (no flaky reds); FUZZ_RANDOM=1 FUZZ_SCALE=10 explores
# fresh ones, and whatever they find is pinned in test_fuzz_regressions.py.
EXPLORE = os.environ.get("FUZZ_RANDOM") == "1"
SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
EXAMPLES_WITH_TOKEN = 40 * SCALE
EXAMPLES_WITH_SESSION = 15 * SCALE
CSRF_SECRET = "f" * 32
MINIMUM_OPERATIONS = 500


def _global_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


# IDs that name real rows (ours and another user's), wrong types, and garbage.
ids = st.one_of(
    st.builds(
        _global_id,
        st.sampled_from(["Task", "ApiToken", "User", "Reminder"]),
        st.integers(min_value=1, max_value=40),
    ),
    st.builds(_global_id, st.text(max_size=10), st.text(max_size=10)),
    st.text(max_size=20),
).map(nodes.String)
schemathesis.graphql.scalar("ID", ids)


@pytest.fixture
def api_token(db):
    owner = UserFactory(email="fuzzer@example.com")
    stranger = UserFactory(email="stranger@example.com")
    for user in (owner, stranger):
        for _ in range(3):
            TaskDependencyFactory(task__owner=user)
        TaskFactory(owner=user)
        DoneTaskFactory(owner=user)
        token_for(user, "READ", name="spare")
    return token_for(owner, "WRITE", name="fuzzer")


def session_cookies(user) -> dict[str, str]:
    """A fresh logged-in session (a fuzzed logout or passwordChange ends the previous one)."""
    client = Client()
    client.force_login(user)
    return {
        django_settings.SESSION_COOKIE_NAME: client.cookies[
            django_settings.SESSION_COOKIE_NAME
        ].value,
        django_settings.CSRF_COOKIE_NAME: CSRF_SECRET,
    }


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(self.format(record))


def test_generated_operations_never_crash_the_api(api_token, settings):
    settings.GRAPHQL_MASK_ERRORS = True
    token, secret = api_token
    fuzz_schema = schemathesis.graphql.from_file(graphql_schema.as_str())
    fuzz_schema.app = get_wsgi_application()
    fuzz_schema.location = "/graphql/"
    bearer = {"Authorization": f"Bearer {secret}"}
    sent: list[str] = []
    failures: list[tuple] = []

    def fuzz(operation, examples: int, with_token: bool) -> None:
        @given(case=st.one_of(operation.as_strategy(), operation.as_strategy(NEGATIVE)))
        @hypothesis_settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=not EXPLORE,
            suppress_health_check=list(HealthCheck),
        )
        def send(case) -> None:
            if with_token:
                response = case.call(headers=bearer)
            else:
                response = case.call(
                    headers={"X-CSRFToken": CSRF_SECRET}, cookies=session_cookies(token.user)
                )
            sent.append(operation.label)
            if operation.label == "Query.me":  # proof that both passes are authenticated
                assert response.json()["data"]["me"] is not None
            if (
                response.status_code >= 500
                or response.status_code in (401, 403)
                or INTERNAL_ERROR in response.text
            ):
                failures.append((case.body, response.status_code, response.text[:500]))
            # A generated apiTokenRevoke may hit the fuzzer's own token: keep it alive.
            ApiToken.objects.filter(pk=token.pk).update(revoked_at=None)

        send()

    crashes = _Collect()
    logger = logging.getLogger("strawberry.execution")
    logger.addHandler(crashes)
    # As Django's test client does: a real WSGI request would otherwise close the database
    # connection at its end, and with it the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        for result in fuzz_schema.get_all_operations():
            fuzz(result.ok(), EXAMPLES_WITH_TOKEN, with_token=True)
            fuzz(result.ok(), EXAMPLES_WITH_SESSION, with_token=False)
    finally:
        logger.removeHandler(crashes)
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)

    assert failures == []
    assert crashes.messages == []
    assert len(sent) >= MINIMUM_OPERATIONS
    print(f"fuzzed {len(sent)} operations over {len(set(sent))} root fields")
