"""Oversized documents are refused before anything runs, with errors that say why."""

import json

import pytest
import strawberry

from schema.limits import SECURITY_EXTENSIONS

pytestmark = pytest.mark.django_db


def nested_tasks(depth: int) -> str:
    """`tasks { edges { node { preTasks { preTasks ... { id } } } } }`, depth levels deep."""
    inner = "id"
    for _ in range(depth - 3):
        inner = f"preTasks {{ {inner} }}"
    return f"{{ tasks {{ edges {{ node {{ {inner} }} }} }} }}"


def messages(body) -> list[str]:
    return [error["message"] for error in body["errors"]]


def codes(body) -> list[str]:
    return [error["extensions"]["code"] for error in body["errors"]]


def test_a_query_ten_levels_deep_runs(gql, settings):
    # Seven nested lists of pre-tasks are far over the cost budget: this test is about depth.
    settings.GRAPHQL_MAX_COST = settings.GRAPHQL_COST_PER_MINUTE = 10**15
    assert gql.data(nested_tasks(10)) == {"tasks": {"edges": []}}


def test_a_query_eleven_levels_deep_is_refused(gql):
    body = gql(nested_tasks(11))
    assert body["data"] is None
    assert body["errors"] == [
        {
            "message": "The operation is 11 levels deep; the limit is 10.",
            "locations": [{"line": 1, "column": 1}],
            "extensions": {"code": "QUERY_TOO_DEEP", "depth": 11, "limit": 10},
        }
    ]


def test_depth_counts_through_fragments(gql):
    inner = "id"
    for _ in range(8):
        inner = f"preTasks {{ {inner} }}"
    fragment = f"fragment Deep on Task {{ {inner} }}"
    body = gql("{ tasks { edges { node { ...Deep } } } } " + fragment)
    assert messages(body) == ["The operation is 11 levels deep; the limit is 10."]
    assert codes(body) == ["QUERY_TOO_DEEP"]


def test_thirty_aliases_run(gql):
    assert "errors" not in gql("{ " + " ".join(f"a{n}: me {{ email }}" for n in range(30)) + " }")


def test_thirty_one_aliases_are_refused(gql):
    body = gql("{ " + " ".join(f"a{n}: me {{ email }}" for n in range(31)) + " }")
    assert messages(body) == [
        "The operation has 31 aliases (after expanding fragments); the limit is 30."
    ]
    assert codes(body) == ["TOO_MANY_ALIASES"]


def test_a_document_over_a_thousand_tokens_is_refused_before_parsing_ends(gql):
    body = gql("{ me { " + "email " * 1000 + "} }")
    assert body["errors"] == [
        {
            "message": "The document has more than 1,000 tokens (comments included); "
            "the limit is 1,000.",
            "extensions": {"code": "TOO_MANY_TOKENS", "limit": 1000},
        }
    ]


def test_a_batch_of_up_to_ten_operations_runs_each_one(gql):
    batch = [{"query": "{ me { email } }"}] * 10
    response = gql.client.post("/graphql/", json.dumps(batch), content_type="application/json")
    assert response.status_code == 200
    assert [item["data"] for item in response.json()] == [
        {"me": {"email": "alice@example.com"}}
    ] * 10
    # Each operation is priced and charged on its own.
    assert [item["extensions"]["cost"]["minute"]["remaining"] for item in response.json()] == [
        200_000 - n for n in range(1, 11)
    ]


def test_a_batch_of_eleven_operations_is_refused_whole(gql):
    batch = [{"query": 'mutation { taskCreate(input: {title: "x"}) { errors { code } } }'}] * 11
    response = gql.client.post("/graphql/", json.dumps(batch), content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": "A batch can hold at most 10 operations.",
                "extensions": {"code": "BATCH_TOO_LARGE"},
            }
        ],
    }


def test_a_body_over_the_upload_limit_is_a_400_not_a_500(gql, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = gql.post("{ me { email } }", {"pad": "x" * 2000})
    assert response.status_code == 400


INTROSPECTION = "{ __schema { queryType { name } } }"


def test_introspection_is_on_by_default_in_development(gql):
    assert gql.data(INTROSPECTION) == {"__schema": {"queryType": {"name": "Query"}}}


def test_introspection_can_be_switched_off(gql, settings):
    settings.GRAPHQL_INTROSPECTION = False
    body = gql(INTROSPECTION)
    assert messages(body)[0] == (
        "GraphQL introspection has been disabled, but the requested query contained the "
        "field '__schema'."
    )
    assert gql.data("{ me { email } }") == {"me": {"email": "alice@example.com"}}


def test_the_standard_introspection_query_is_not_caught_by_the_depth_limit(gql):
    from graphql import get_introspection_query

    body = gql(get_introspection_query())
    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


# A schema with the project's security extensions and a resolver that fails like a bug would:
# the only way to exercise masking without planting a bug in the real schema.
@strawberry.type
class _BrokenQuery:
    @strawberry.field
    def broken(self) -> str:
        raise RuntimeError('relation "secret_table" does not exist: SELECT * FROM secret_table')

    @strawberry.field
    def refused(self) -> str:
        from schema.errors import AuthenticationError

        raise AuthenticationError()


_broken_schema = strawberry.Schema(query=_BrokenQuery, extensions=SECURITY_EXTENSIONS)


class _Context:
    # Stands for the Django request the extensions read.
    class request:
        api_token = None


def test_unexpected_exceptions_are_masked_in_production(settings):
    settings.GRAPHQL_MASK_ERRORS = True
    result = _broken_schema.execute_sync("{ broken }", context_value=_Context())
    assert [e.message for e in result.errors] == ["Internal error"]
    assert "secret_table" not in json.dumps([e.formatted for e in result.errors])


def test_client_errors_keep_their_message_when_masking(settings):
    settings.GRAPHQL_MASK_ERRORS = True
    result = _broken_schema.execute_sync("{ refused }", context_value=_Context())
    assert [e.formatted["extensions"] for e in result.errors] == [{"code": "UNAUTHENTICATED"}]
    result = _broken_schema.execute_sync("{ nope }", context_value=_Context())
    assert result.errors[0].message.startswith("Cannot query field 'nope'")


def test_bad_variables_keep_their_message_when_masking(gql, settings):
    settings.GRAPHQL_MASK_ERRORS = True
    body = gql("query($n: Int) { tasks(first: $n) { totalCount } }", {"n": "many"})
    assert body["errors"][0]["message"] != "Internal error"
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}


def test_unexpected_exceptions_show_their_message_in_development(settings):
    settings.GRAPHQL_MASK_ERRORS = False
    result = _broken_schema.execute_sync("{ broken }", context_value=_Context())
    assert "secret_table" in result.errors[0].message
