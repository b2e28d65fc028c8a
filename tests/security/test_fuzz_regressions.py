"""Crashes the fuzzer found, each pinned by the request that caused it."""

import base64
import logging

import pytest

pytestmark = pytest.mark.django_db

TASKS = "query($after: String, $before: String, $first: Int, $last: Int) { tasks(after: $after, "
TASKS += "before: $before, first: $first, last: $last) { totalCount } }"
NOT_A_CURSOR = "Arguments 'before' and 'after' take cursors returned by this field."


def cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "variables,message",
    [
        # Found by the fuzzer: `before: "csrfToken"` raised ValueError in strawberry's slicing.
        ({"before": "csrfToken"}, NOT_A_CURSOR),
        ({"after": "abcde"}, NOT_A_CURSOR),
        ({"after": cursor("no colon")}, NOT_A_CURSOR),
        ({"after": cursor("arrayconnection:abc")}, NOT_A_CURSOR),
        ({"after": cursor("Task:1")}, NOT_A_CURSOR),
        ({"after": cursor('orderedcursor:["x","1"]')}, NOT_A_CURSOR),
        ({"after": cursor('orderedcursor:["2030-01-01T00:00:00+00:00"]')}, NOT_A_CURSOR),
        ({"first": -1}, "Argument 'first' must be a non-negative integer."),
        ({"last": 101}, "Argument 'last' cannot be higher than 100."),
    ],
    ids=[
        "garbage",
        "bad-base64",
        "no-colon",
        "non-numeric",
        "wrong-prefix",
        "not-a-date",
        "too-few-values",
        "negative",
        "too-many",
    ],
)
def test_bad_paging_arguments_are_client_errors_not_crashes(
    gql, settings, caplog, variables, message
):
    settings.GRAPHQL_MASK_ERRORS = True
    with caplog.at_level(logging.ERROR, logger="strawberry.execution"):
        body = gql(TASKS, variables)
    assert body["data"] is None
    assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
        (message, {"code": "BAD_USER_INPUT"})
    ]
    assert [r for r in caplog.records if r.name == "strawberry.execution"] == []


def test_a_valid_cursor_still_pages(gql, user):
    from tests.factories import TaskFactory

    TaskFactory.create_batch(3, owner=user)
    page = gql.data("{ tasks(first: 1) { pageInfo { endCursor } } }")
    after = page["tasks"]["pageInfo"]["endCursor"]
    data = gql.data(
        "query($a: String) { tasks(first: 5, after: $a) { edges { cursor } } }", {"a": after}
    )
    assert len(data["tasks"]["edges"]) == 2


NUL = "Text cannot contain NUL characters (\\u0000)."


@pytest.mark.parametrize(
    "document,variables",
    [
        # Found by the fuzzer on PostgreSQL: "text fields cannot contain NUL (0x00) bytes".
        (
            "mutation($t: String!) { taskCreate(input: {title: $t}) { errors { code } } }",
            {"t": "a\x00b"},
        ),
        ("query($q: String) { tasks(filter: {titleContains: $q}) { totalCount } }", {"q": "\x00"}),
        (
            'mutation($e: String!) { login(email: $e, password: "x") { errors { code } } }',
            {"e": "alice\x00@example.com"},
        ),
        (
            "mutation($i: UserUpdateInput!) { userUpdate(input: $i) { errors { code } } }",
            {"i": {"firstName": "x\x00"}},
        ),
    ],
    ids=["taskCreate-variable", "titleContains", "login", "userUpdate-nested"],
)
def test_nul_characters_in_variables_are_refused_before_anything_runs(gql, document, variables):
    from tasks.models import Task

    body = gql(document, variables)
    assert body == {
        "data": None,
        "errors": [{"message": NUL, "extensions": {"code": "BAD_USER_INPUT"}}],
    }
    assert Task.objects.count() == 0


def test_nul_characters_in_string_literals_are_refused_too(gql):
    from tasks.models import Task

    body = gql('mutation { taskCreate(input: {title: "a\\u0000b"}) { errors { code } } }')
    assert body["data"] is None
    assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
        (NUL, {"code": "BAD_USER_INPUT"})
    ]
    assert Task.objects.count() == 0
