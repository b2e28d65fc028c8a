"""The database gives up on a web request before gunicorn would kill the worker, and the
client gets a TIMEOUT error, never a 500."""

import pytest
from django.db import connection

from tasks.models import Task

# Real transactions: inside a test's transaction, PostgreSQL's cancelled statement would
# abort everything after it.
pytestmark = pytest.mark.django_db(transaction=True)

SCAN = '{ tasks(filter: {titleContains: "no such title"}) { totalCount } }'


@pytest.fixture
def heavy(user):
    # 20,000 tasks and a substring filter no index serves: a full scan, well over 1 ms.
    Task.objects.bulk_create([Task(owner=user, title=f"task {n}") for n in range(20_000)])


@pytest.fixture
def unlimited_afterwards():
    yield
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")
        connection.taskgraph_timeout = None


def test_a_request_over_the_database_time_limit_gets_a_timeout_error(
    gql, heavy, settings, unlimited_afterwards
):
    settings.WEB_DB_TIMEOUT_MS = 2
    response = gql.post(SCAN)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None  # totalCount is Int!, tasks non-null: the null goes up
    assert body["errors"] == [
        {
            "message": "The database took too long (over 0.002 s) to answer this request. Ask "
            "for less (smaller pages, fewer nested lists) or try again later.",
            "locations": [{"line": 1, "column": 53}],
            "path": ["tasks", "totalCount"],
            "extensions": {"code": "TIMEOUT"},
        }
    ]


def test_the_timeout_is_not_masked_as_an_internal_error_in_production(
    gql, heavy, settings, unlimited_afterwards
):
    settings.WEB_DB_TIMEOUT_MS = 2
    settings.GRAPHQL_MASK_ERRORS = True
    body = gql.post(SCAN).json()
    assert [error["extensions"]["code"] for error in body["errors"]] == ["TIMEOUT"]


def test_within_the_limit_the_same_request_answers(gql, heavy, unlimited_afterwards):
    assert gql.data(SCAN) == {"tasks": {"totalCount": 0}}


def test_work_outside_web_requests_has_no_limit(heavy, settings, unlimited_afterwards):
    # The worker, the dispatcher and management commands: no request, no deadline.
    settings.WEB_DB_TIMEOUT_MS = 2
    assert Task.objects.filter(title__icontains="no such title").count() == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's own setting")
def test_web_requests_run_with_postgresqls_statement_timeout(gql, unlimited_afterwards):
    gql.data("{ tasks { totalCount } }")
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone() == ("5s",)
