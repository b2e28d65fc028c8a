"""Hostile documents are refused by a pass linear in the document, before graphql-core's
validation (which is not linear) and before anything runs; each refusal has a code.

Timings are measured by bench/hostile.py, not asserted here."""

import pytest
from graphql import parse

from schema.validation import Limits, measure_document
from tests.security.hostile_documents import (
    doubling_fragments,
    huge_comment,
    many_comments,
    nested_fields,
    repeated_field,
)

pytestmark = pytest.mark.django_db

LIMITS = Limits(max_depth=10, max_aliases=30, max_selections=500)


def codes(body) -> list[str]:
    return [error["extensions"]["code"] for error in body["errors"]]


def test_seventeen_doubling_fragments_are_refused_by_alias_count_anonymously(anon):
    # 1 KB that stands for 65,536 aliased fields; the first fragment over the limit is named.
    query = doubling_fragments(17)
    assert len(query) < 1100
    response = anon.client.get(
        "/graphql/", {"query": query}, headers={"Accept": "application/json"}
    )
    body = response.json()
    assert response.status_code == 200
    assert body["data"] is None
    assert body["errors"] == [
        {
            "message": "Fragment 'F11' has 32 aliases (after expanding fragments); the limit is "
            "30.",
            "locations": [{"line": 1, "column": 423}],
            "extensions": {"code": "TOO_MANY_ALIASES", "aliases": 32, "limit": 30},
        }
    ]


def test_thirty_doubling_fragments_are_refused_the_same_way(anon):
    body = anon(doubling_fragments(30))
    assert codes(body) == ["TOO_MANY_ALIASES"]
    assert body["errors"][0]["message"].startswith("Fragment 'F24' has 32 aliases")


def test_doubling_fragments_without_aliases_are_refused_by_selection_count(anon):
    query = doubling_fragments(30).replace("x: __typename", "__typename")
    body = anon(query)
    assert codes(body) == ["TOO_COMPLEX"]
    assert body["errors"][0]["message"] == (
        "Fragment 'F20' selects 512 fields (after expanding fragments); the limit is 500."
    )


def test_the_operation_counts_every_spread_of_a_fragment(gql):
    # Each fragment alone is within limits; spread 20 times it is not.
    fields = " ".join(f"f{n}: email" for n in range(2))
    spreads = " ".join(["...F"] * 20)
    body = gql(f"{{ me {{ {spreads} }} }} fragment F on User {{ {fields} }}")
    assert codes(body) == ["TOO_MANY_ALIASES"]
    assert body["errors"][0]["extensions"]["aliases"] == 40


def test_a_fragment_cycle_is_refused_before_graphql_core_follows_it(anon):
    query = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...C } "
    query += "fragment C on Query { ...A }"
    body = anon(query)
    assert body["errors"] == [
        {
            "message": "Fragment cycle: A -> B -> C -> A. A fragment cannot spread itself.",
            "locations": [{"line": 1, "column": 10}],
            "extensions": {"code": "FRAGMENT_CYCLE"},
        }
    ]


def test_a_fragment_spreading_itself_is_a_cycle(anon):
    body = anon("{ ...A } fragment A on Query { __typename ...A }")
    assert body["errors"][0]["message"] == (
        "Fragment cycle: A -> A. A fragment cannot spread itself."
    )


def test_thirty_levels_of_nesting_are_refused_by_depth(anon):
    body = anon(nested_fields(30))
    assert codes(body) == ["QUERY_TOO_DEEP"]
    assert body["errors"][0]["extensions"] == {"code": "QUERY_TOO_DEEP", "depth": 30, "limit": 10}


def test_nesting_deeper_than_the_parser_takes_is_refused_as_too_deep(anon):
    # 300 levels, 900 tokens: within the token limit; graphql-core's parser gives up first.
    body = anon(nested_fields(300))
    assert body["errors"] == [
        {
            "message": "The document is nested too deeply to be parsed.",
            "extensions": {"code": "QUERY_TOO_DEEP"},
        }
    ]


def test_the_measure_is_iterative_whatever_the_nesting():
    # The deepest document graphql-core parses, measured with little stack left to spare.
    import inspect
    import sys

    document = parse(nested_fields(150))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 20)
    try:
        errors = measure_document(document, LIMITS)
    finally:
        sys.setrecursionlimit(limit)
    assert [error.extensions["depth"] for error in errors] == [150]


def test_depth_counts_inline_fragments_at_their_own_level():
    document = parse("{ me { ... on User { email } ... { firstName } } }")
    assert measure_document(document, Limits(1, 30, 500)) == []
    assert [e.extensions["code"] for e in measure_document(document, Limits(0, 30, 500))] == [
        "QUERY_TOO_DEEP"
    ]


def test_four_hundred_and_ninety_eight_repeated_fields_run(gql):
    assert gql.data(repeated_field(498)) == {"me": {"email": "alice@example.com"}}


def test_five_hundred_and_one_fields_are_refused(gql):
    body = gql(repeated_field(500))
    assert codes(body) == ["TOO_COMPLEX"]
    assert body["errors"][0]["message"] == (
        "The operation selects 501 fields (after expanding fragments); the limit is 500."
    )


def test_a_document_over_the_length_limit_is_refused_before_lexing(anon):
    body = anon(huge_comment(2_400_000 - 18))
    assert body == {
        "data": None,
        "errors": [
            {
                "message": "The document is 2,400,000 characters long; the limit is 20,000.",
                "extensions": {"code": "QUERY_TOO_LARGE", "length": 2_400_000, "limit": 20_000},
            }
        ],
    }


def test_comments_count_as_tokens(anon):
    body = anon(many_comments(1001))
    assert codes(body) == ["TOO_MANY_TOKENS"]


def test_limits_are_settings(gql, settings):
    settings.GRAPHQL_MAX_SELECTIONS = 2
    assert codes(gql("{ me { email firstName } }")) == ["TOO_COMPLEX"]
    settings.GRAPHQL_MAX_SELECTIONS = 3
    assert gql.data("{ me { email firstName } }") == {
        "me": {"email": "alice@example.com", "firstName": ""}
    }


def test_a_refused_document_is_refused_again_after_a_cached_success(gql, settings):
    # The parse and validation caches must not let a document skip a lowered limit.
    query = "{ me { email firstName } }"
    gql.data(query)
    settings.GRAPHQL_MAX_DEPTH = 0
    assert codes(gql(query)) == ["QUERY_TOO_DEEP"]
