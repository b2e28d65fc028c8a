"""Every operation is priced from the document and its variables before it runs: over the
per-request budget it is refused before any SQL; each caller has a budget per minute."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from graphql import get_named_type, is_leaf_type, is_list_type, is_non_null_type, is_object_type

from schema.cost import LIST_CAPS, PAGED_TYPES, SIZED_BY_ARGUMENT, operation_cost
from schema.schema import schema
from tests.graphql import GraphQLClient, only_authentication

pytestmark = pytest.mark.django_db

LIST = "query($first: Int) { tasks(first: $first) { edges { node { id title } } } }"
NESTED = """
query($first: Int) {
  tasks(first: $first) {
    totalCount
    edges { node { id title preTasks { id title } dependents { id title } } }
  }
}
"""


def away_from_a_minute_boundary(seconds: float) -> None:
    """Budgets reset each minute: start a test that spans several requests early enough in
    one that it ends there too."""
    import time

    left = 60 - time.time() % 60
    if left < seconds:
        time.sleep(left + 0.05)


def cost(query: str, variables: dict | None = None, operation_name: str | None = None) -> int:
    from graphql import parse

    return operation_cost(schema._schema, parse(query), operation_name, variables)


def test_a_connection_counts_its_page_and_what_each_edge_selects():
    # 50 edges + 50 nodes + the 50 items counted by the connection itself.
    assert cost(LIST, {"first": 50}) == 150
    # Without first: the field's cap (100).
    assert cost(LIST) == 300


def test_nested_lists_multiply_by_their_caps(settings):
    # 50 x (edge, node) + 50 pages + 50 x 50 pre-tasks + 50 x 100 dependents
    assert cost(NESTED, {"first": 50}) == 150 + 50 * 50 + 50 * 100
    settings.TASK_MAX_PRE_TASKS = 10
    assert cost(NESTED, {"first": 50}) == 150 + 50 * 10 + 50 * 100


def test_transitive_reads_are_priced_by_their_cap():
    query = "query($id: ID!) { task(id: $id) { ancestors { items { depth task { id } } } } }"
    # the task, the TaskReach counted by its 200 items, 200 TaskAtDepth, 200 tasks, and the
    # read's own queries
    assert cost(query, {"id": "x"}) == 1 + 200 + 200 + 200 + 100
    assert cost(query.replace("ancestors", "ancestors(first: 10)"), {"id": "x"}) == 131
    assert cost('{ task(id: "x") { blockers { id } } }') == 1 + 50
    assert cost('{ task(id: "x") { blockers(transitive: true) { id } } }') == 1 + 200 + 100
    assert (
        cost(
            'query($t: Boolean!) { task(id: "x") { blockers(transitive: $t) { id } } }', {"t": True}
        )
        == 301
    )


def test_a_fragment_costs_the_same_as_its_fields_written_out():
    inline = "{ tasks(first: 10) { edges { node { preTasks { id } } } } }"
    spread = (
        "{ tasks(first: 10) { edges { node { ...P } } } } fragment P on Task { preTasks { id } }"
    )
    assert cost(spread) == cost(inline) == 30 + 10 * 50


def test_leaves_and_typename_are_free_and_mutations_pay_for_the_write():
    assert cost("{ __typename me { email } }") == 1
    mutation = 'mutation { taskCreate(input: {title: "x"}) { task { id } errors { code } } }'
    # 10 for the write, the payload, the task, at most 10 errors
    assert cost(mutation) == 10 + 1 + 1 + 10


def test_a_relation_repeated_under_aliases_in_a_list_pays_a_query_per_item():
    once = "{ tasks(first: 10) { edges { node { preTasks { id } } } } }"
    twice = "{ tasks(first: 10) { edges { node { a: preTasks { id } b: preTasks { id } } } } }"
    assert cost(once) == 30 + 10 * 50
    assert cost(twice) == 30 + 2 * 10 * 50 + 10 * 10
    # On a single object the optimizer's plan does not matter: no surcharge.
    single = '{ task(id: "x") { a: preTasks { id } b: preTasks { id } } }'
    assert cost(single) == 1 + 2 * 50


def test_the_operation_named_is_the_one_priced():
    document = "query A { me { email } } query B { tasks { edges { node { id } } } }"
    assert cost(document, operation_name="A") == 1
    assert cost(document, operation_name="B") == 300
    assert cost(document) == 0  # ambiguous: graphql-core refuses it


def test_every_list_field_of_objects_has_a_declared_cap():
    unpriced = []
    for type_ in schema._schema.type_map.values():
        if not is_object_type(type_) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            field_type = field.type.of_type if is_non_null_type(field.type) else field.type
            if not is_list_type(field_type) or is_leaf_type(get_named_type(field_type)):
                continue
            if name == "edges" or PAGED_TYPES.get(type_.name) == name:
                continue  # priced by the field returning the connection
            if name == "errors" and type_.name.endswith("Payload"):
                continue
            if (type_.name, name) not in LIST_CAPS | SIZED_BY_ARGUMENT:
                unpriced.append(f"{type_.name}.{name}")
    assert unpriced == []


def test_every_response_reports_its_cost(gql):
    body = gql(LIST, {"first": 5})
    assert body["extensions"]["cost"]["requested"] == 15
    assert body["extensions"]["cost"]["budget"] == 25_000
    minute = body["extensions"]["cost"]["minute"]
    assert minute["budget"] == 200_000
    assert minute["remaining"] == 200_000 - 15
    assert 1 <= minute["resetsIn"] <= 60


def test_an_operation_over_the_budget_is_refused_before_any_sql(gql):
    query = (
        "{ tasks(first: 100) { edges { node { "
        "ancestors { items { task { ancestors { truncated } } } } } } } }"
    )
    # Nothing of the operation: only the view's authentication of the session.
    with CaptureQueriesContext(connection) as captured:
        body = gql(query)
    assert only_authentication(captured.captured_queries)
    assert body["data"] is None
    assert body["errors"] == [
        {
            "message": "This query could cost 6,070,300 points; one request may cost at most "
            "25,000. Ask for smaller pages (first/last), fewer nested lists, or split it.",
            "extensions": {"code": "QUERY_TOO_COSTLY", "cost": 6_070_300, "budget": 25_000},
        }
    ]
    assert body["extensions"] == {"cost": {"requested": 6_070_300, "budget": 25_000}}


def test_the_anonymous_fragment_bomb_within_limits_is_priced_too(anon, settings):
    settings.GRAPHQL_MAX_COST = 100
    # 7 levels of doubling: 64 x tasks(first: 100), within the alias and selection limits.
    fragments = " ".join(f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}" for n in range(6))
    query = "{ ...F0 } " + fragments + " fragment F6 on Query { tasks { totalCount } }"
    body = anon(query)
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert body["errors"][0]["extensions"]["cost"] == 64 * 100


def test_the_budget_per_minute_refuses_with_a_retry_time(gql, settings):
    away_from_a_minute_boundary(2)
    settings.GRAPHQL_COST_PER_MINUTE = 40
    assert gql(LIST, {"first": 10})["extensions"]["cost"]["minute"]["remaining"] == 10
    response = gql.post(LIST, {"first": 10})
    body = response.json()
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "THROTTLED"
    retry = error["extensions"]["retryAfter"]
    assert 1 <= retry <= 60
    assert error["message"] == (
        "Query budget exhausted: 10 of 40 points left this minute, this query needs 30. "
        f"Retry in {retry} seconds."
    )
    assert response.headers["Retry-After"] == str(retry)
    # The refused request took nothing: a cheaper one still fits.
    assert gql.data(LIST, {"first": 3}) == {"tasks": {"edges": []}}


def test_anonymous_callers_are_budgeted_per_address_apart_from_users(gql, settings):
    away_from_a_minute_boundary(2)
    settings.GRAPHQL_COST_PER_MINUTE = 40
    first = GraphQLClient(Client(REMOTE_ADDR="10.0.0.1"))
    second = GraphQLClient(Client(REMOTE_ADDR="10.0.0.2"))
    query = "{ tasks(first: 10) { totalCount } }"
    assert first(query)["extensions"]["cost"]["minute"]["remaining"] == 30
    assert first(query)["extensions"]["cost"]["minute"]["remaining"] == 20
    assert second(query)["extensions"]["cost"]["minute"]["remaining"] == 30
    assert gql(query)["extensions"]["cost"]["minute"]["remaining"] == 30


def test_the_budget_lives_in_the_shared_cache(gql, settings):
    settings.GRAPHQL_COST_PER_MINUTE = 40
    gql(LIST, {"first": 10})
    keys = [key for key in cache._cache if ":cost:" in key]  # LocMemCache's own store
    assert len(keys) == 1


CHARGE = """
import django; django.setup()
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from schema.cost import budget_charge
request = RequestFactory().get("/graphql/", REMOTE_ADDR={address!r})
request.user = AnonymousUser()
accepted, budget = budget_charge(request, {points})
print(accepted, budget.remaining)
"""


@pytest.mark.services
def test_web_processes_share_one_budget_through_redis(settings, shared_redis):
    import os
    import subprocess
    import sys
    import time

    url, redis = shared_redis.url, shared_redis.client
    address = f"10.{time.time_ns() % 250}.0.9"

    def charge_in_another_process(points: int) -> str:
        return subprocess.run(
            [sys.executable, "-c", CHARGE.format(address=address, points=points)],
            env={
                **os.environ,
                "CACHE_URL": url,
                "GRAPHQL_COST_PER_MINUTE": "100",
                "DJANGO_SETTINGS_MODULE": "core.settings",
            },
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()

    away_from_a_minute_boundary(20)
    try:
        assert charge_in_another_process(60) == "True 40"
        assert charge_in_another_process(60) == "False 40"
        assert charge_in_another_process(40) == "True 0"
    finally:
        for key in redis.scan_iter("taskgraph:*:cost:*"):
            redis.delete(key)


def test_task_order_is_priced_by_the_most_tasks_a_user_may_have():
    assert cost("{ taskOrder { id } }") == 10_000 + 100
    assert cost("{ taskOrder(first: 20) { id } }") == 20 + 100


def test_the_operations_of_a_batch_share_one_requests_budget(gql, settings):
    import json

    settings.GRAPHQL_MAX_COST = 70
    batch = [{"query": LIST, "variables": {"first": 10}}] * 3
    response = gql.client.post("/graphql/", json.dumps(batch), content_type="application/json")
    answers = response.json()
    assert [a["data"] for a in answers[:2]] == [{"tasks": {"edges": []}}] * 2
    assert answers[2]["errors"] == [
        {
            "message": "This operation could cost 30 points and the batch's earlier ones 60; "
            "one request may cost at most 70. Send fewer operations per batch.",
            "extensions": {"code": "QUERY_TOO_COSTLY", "cost": 30, "budget": 70},
        }
    ]
    assert response.wsgi_request.graphql_cost == 60


def test_nodes_are_priced_by_the_ids_asked_for():
    assert cost('{ nodes(ids: ["a", "b", "c"]) { id } }') == 3
    assert cost("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ["a"] * 7}) == 7
