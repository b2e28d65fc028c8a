"""Schemathesis generates GraphQL operations (valid and invalid) from the live schema and sends
them, with a WRITE API token, with a cookie session and anonymously, through the real WSGI stack:
as a POST, as a GET, or inside a batch. A second fuzz sends raw bodies: random bytes, random
JSON, and every root field's operation with random variables.

No response may be a 5xx or an authentication failure, and no resolver may raise an
unexpected exception (those are logged by strawberry.execution and answered as
"Internal error" with masking on).

`make fuzz` runs the same at FUZZ_SCALE=4 with fresh random cases (over 5,000 requests).
"""

import base64
import json
import logging
import os
from urllib.parse import quote

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
EXAMPLES_ANONYMOUS = 8 * SCALE
RAW_EXAMPLES = 400 * SCALE
CSRF_SECRET = "f" * 32
MINIMUM_OPERATIONS = 500
# How a generated operation travels: most as a POST (schemathesis' own request), some as a GET
# (mutations are refused there with a 400) and some as the first member of a batch.
TRANSPORTS = st.sampled_from(["post", "post", "get", "batch"])


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


def _credentials(caller: str, user, bearer: dict) -> tuple[dict, dict]:
    if caller == "token":
        return bearer, {}
    csrf = {"X-CSRFToken": CSRF_SECRET}
    if caller == "session":
        return csrf, session_cookies(user)
    return csrf, {django_settings.CSRF_COOKIE_NAME: CSRF_SECRET}


def _send_other(transport: str, document: str, headers: dict, cookies: dict):
    """A GET, or a batch with a second, harmless operation, through Django's test client."""
    client = Client(headers=headers)
    for name, value in cookies.items():
        client.cookies[name] = value
    try:
        if transport == "get":
            # Generated strings may hold lone surrogates: sent as the bytes a careless client
            # would send (invalid UTF-8), which Django decodes with replacement characters.
            query = quote(document, safe="", errors="surrogatepass")
            return client.get(f"/graphql/?query={query}", HTTP_ACCEPT="application/json")
        body = [{"query": document}, {"query": "{ me { email } }"}]
        return client.post("/graphql/", json.dumps(body), content_type="application/json")
    finally:
        # Django's test client connects close_old_connections again after its request; the
        # next WSGI request would then close the connection that holds the test's transaction.
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(self.format(record))


def test_generated_operations_never_crash_the_api(api_token, settings):
    settings.GRAPHQL_MASK_ERRORS = True
    # Thousands of operations a minute from one caller (make fuzz): the per-minute budget
    # would answer THROTTLED, and `me` would prove nothing about authentication.
    settings.GRAPHQL_COST_PER_MINUTE = 10**12
    token, secret = api_token
    fuzz_schema = schemathesis.graphql.from_file(graphql_schema.as_str())
    fuzz_schema.app = get_wsgi_application()
    fuzz_schema.location = "/graphql/"
    bearer = {"Authorization": f"Bearer {secret}"}
    sent: list[str] = []
    failures: list[tuple] = []

    def fuzz(operation, examples: int, caller: str) -> None:
        @given(
            case=st.one_of(operation.as_strategy(), operation.as_strategy(NEGATIVE)),
            transport=TRANSPORTS,
        )
        @hypothesis_settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=not EXPLORE,
            suppress_health_check=list(HealthCheck),
        )
        def send(case, transport: str) -> None:
            headers, cookies = _credentials(caller, token.user, bearer)
            if transport == "post":
                response = case.call(headers=headers, cookies=cookies)
            else:
                response = _send_other(transport, case.body, headers, cookies)
            sent.append(operation.label)
            if operation.label == "Query.me" and transport != "batch":
                # Proof that each pass is (or is not) authenticated.
                me = response.json()["data"]["me"]
                assert (me is None) == (caller == "anonymous"), response.text
            if (
                response.status_code >= 500
                or (response.status_code in (401, 403) and caller != "anonymous")
                or INTERNAL_ERROR in response.text
            ):
                failures.append((transport, case.body, response.status_code, response.text[:500]))
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
            fuzz(result.ok(), EXAMPLES_WITH_TOKEN, "token")
            fuzz(result.ok(), EXAMPLES_WITH_SESSION, "session")
            fuzz(result.ok(), EXAMPLES_ANONYMOUS, "anonymous")
    finally:
        logger.removeHandler(crashes)
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)

    assert failures == []
    assert crashes.messages == []
    assert len(sent) >= MINIMUM_OPERATIONS
    print(f"fuzzed {len(sent)} operations over {len(set(sent))} root fields")


# Raw bodies. Each root field's operation with every argument as a variable, so the variables
# (not only literals) carry random values; values follow the argument types most of the time
# and are any JSON the rest of the time.
JUNK_TEXT = ["", " ", "a\ud800b", "\udfff", "\x00", "é" * 300, "Task:1", "null", "9" * 40]
MOMENTS = [
    "2030-01-01T00:00:00+00:00",
    "2030-01-01T00:00:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59+00:00",
    "2030-02-30T00:00:00Z",
    "yesterday",
]
json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(JUNK_TEXT),
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _typed_values(type_) -> st.SearchStrategy:
    from graphql import (
        GraphQLEnumType,
        GraphQLInputObjectType,
        GraphQLList,
        GraphQLNonNull,
    )

    if isinstance(type_, GraphQLNonNull):
        return _typed_values(type_.of_type)
    if isinstance(type_, GraphQLList):
        typed = st.lists(_typed_values(type_.of_type), max_size=3)
    elif isinstance(type_, GraphQLInputObjectType):
        fields = type_.fields
        typed = st.fixed_dictionaries(
            {},
            optional={
                name: st.deferred(lambda f=f: _typed_values(f.type)) for name, f in fields.items()
            },
        )
    elif isinstance(type_, GraphQLEnumType):
        typed = st.sampled_from(list(type_.values))
    else:
        typed = {
            "ID": ids.map(lambda node: node.value),
            "DateTime": st.sampled_from(MOMENTS),
            "Int": st.integers(min_value=-(2**33), max_value=2**33),
            "Float": st.floats(allow_nan=False, allow_infinity=False),
            "Boolean": st.booleans(),
        }.get(type_.name, st.text(max_size=30) | st.sampled_from(JUNK_TEXT))
    return st.one_of(typed, typed, typed, json_values)


def _root_operations() -> list[tuple[str, dict]]:
    from graphql import get_named_type, is_leaf_type

    core = graphql_schema._schema
    operations = []
    for kind, root in (("query", core.query_type), ("mutation", core.mutation_type)):
        for name, field in root.fields.items():
            declared = ", ".join(f"${arg}: {spec.type}" for arg, spec in field.args.items())
            passed = ", ".join(f"{arg}: ${arg}" for arg in field.args)
            selection = "" if is_leaf_type(get_named_type(field.type)) else " { __typename }"
            document = (
                f"{kind}{f'({declared})' if declared else ''} "
                f"{{ {name}{f'({passed})' if passed else ''}{selection} }}"
            )
            variables = st.fixed_dictionaries(
                {}, optional={arg: _typed_values(spec.type) for arg, spec in field.args.items()}
            )
            operations.append((document, variables))
    return operations


def _raw_bodies() -> st.SearchStrategy[bytes]:
    operations = st.one_of(
        [
            st.builds(lambda d, v: {"query": d, "variables": v}, st.just(doc), variables)
            for doc, variables in _root_operations()
        ]
    )
    as_json = st.one_of(
        operations,
        st.lists(operations, min_size=1, max_size=3),
        json_values,
        st.builds(lambda q, v: {"query": q, "variables": v}, st.text(max_size=40), json_values),
    ).map(lambda value: json.dumps(value).encode())
    return st.one_of(
        as_json,
        as_json,
        as_json,
        st.binary(max_size=80),
        st.builds(
            lambda body, tail: body + tail, as_json, st.sampled_from([b"\xff", b"\xc3", b"\x00"])
        ),
        st.integers(min_value=1, max_value=3000).map(
            lambda depth: (
                b'{"query": "{ me { email } }", "variables": {"v": '
                + b"[" * depth
                + b"]" * depth
                + b"}}"
            )
        ),
    )


def _all_errors_coded(body) -> bool:
    bodies = body if isinstance(body, list) else [body]
    return all(
        "code" in (error.get("extensions") or {})
        for item in bodies
        for error in item.get("errors") or []
    )


def test_raw_bodies_never_crash_the_api(api_token, settings):
    settings.GRAPHQL_MASK_ERRORS = True
    token, secret = api_token
    failures: list[tuple] = []
    sent = 0

    @given(body=_raw_bodies(), with_token=st.booleans())
    @hypothesis_settings(
        max_examples=RAW_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not EXPLORE,
        suppress_health_check=list(HealthCheck),
    )
    def send(body: bytes, with_token: bool) -> None:
        nonlocal sent
        headers = {"Authorization": f"Bearer {secret}"} if with_token else {}
        response = Client(headers=headers).post("/graphql/", body, content_type="application/json")
        sent += 1
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if (
            response.status_code >= 500
            or INTERNAL_ERROR in response.text
            or payload is None
            or not _all_errors_coded(payload)
        ):
            failures.append((body[:300], response.status_code, response.text[:300]))
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=None)

    crashes = _Collect()
    logger = logging.getLogger("strawberry.execution")
    logger.addHandler(crashes)
    try:
        send()
    finally:
        logger.removeHandler(crashes)

    assert failures == []
    assert crashes.messages == []
    assert sent == RAW_EXAMPLES
    print(f"sent {sent} raw bodies")
