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
        ({"after": cursor("Task:1")}, "Argument 'after' contains a non-existing value."),
        ({"first": -1}, "Argument 'first' must be a non-negative integer."),
        ({"last": 101}, "Argument 'last' cannot be higher than 100."),
    ],
    ids=[
        "garbage",
        "bad-base64",
        "no-colon",
        "non-numeric",
        "wrong-prefix",
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
