"""Each attack of issue 9, as a hostile client sends it, with its data sizes: refused before
it runs, or bounded. (bench/hostile.py sends the same against gunicorn and times them.)"""

import json
from itertools import pairwise

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tasks.models import Task, TaskDependency
from tests.factories import TaskFactory
from tests.graphql import global_id, only_authentication
from tests.security.hostile_documents import doubling_fragments, huge_comment, repeated_field

pytestmark = pytest.mark.django_db


def codes(body) -> list[str]:
    return [error["extensions"]["code"] for error in body["errors"]]


def chain(user, length: int) -> list[Task]:
    tasks = Task.objects.bulk_create(
        [Task(owner=user, title=f"T{n}") for n in range(length)], batch_size=1000
    )
    TaskDependency.objects.bulk_create(
        [TaskDependency(task=b, pre_task=a) for a, b in pairwise(tasks)], batch_size=1000
    )
    return tasks


def test_anonymous_1kb_get_of_17_doubling_fragments_is_refused_before_validation(
    anon, django_assert_num_queries
):
    # 661 characters standing for 65,536 fields; no cookie, no token, GET.
    with django_assert_num_queries(0):
        response = anon.client.get(
            "/graphql/", {"query": doubling_fragments(17)}, headers={"Accept": "application/json"}
        )
    assert response.status_code == 200
    assert codes(response.json()) == ["TOO_MANY_ALIASES"]


def test_thirty_doubling_levels_are_refused_alike_and_never_reach_a_500(anon):
    response = anon.client.get(
        "/graphql/", {"query": doubling_fragments(30)}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 200
    assert codes(response.json()) == ["TOO_MANY_ALIASES"]


def test_a_page_of_100_tasks_each_with_its_ancestors_over_a_1000_task_chain_is_refused(user, gql):
    chain(user, 1000)
    query = (
        "{ tasks(first: 100) { edges { node { "
        "ancestors { items { depth task { id title } } } } } } }"
    )
    # Nothing of the operation: only the view's authentication of the session.
    with CaptureQueriesContext(connection) as captured:
        body = gql(query)
    assert only_authentication(captured.captured_queries)
    assert codes(body) == ["QUERY_TOO_COSTLY"]
    assert body["errors"][0]["extensions"]["cost"] == 300 + 100 * (100 + 3 * 200)


def test_ancestors_over_a_1000_task_chain_stop_at_200_and_say_so(user, gql):
    tail = chain(user, 1000)[-1]
    query = "query($id: ID!) { task(id: $id) { ancestors { truncated items { depth } } } }"
    reach = gql.data(query, {"id": global_id("Task", tail.pk)})["task"]["ancestors"]
    assert len(reach["items"]) == 200
    assert reach["truncated"] is True


def test_a_task_cannot_get_10000_pre_tasks_only_50(user, gql):
    task, *pre = TaskFactory.create_batch(52, owner=user)
    ids = [global_id("Task", t.pk) for t in pre]
    add = """mutation($id: ID!, $pre: [ID!]!) {
      taskAddPreTasks(taskId: $id, preTaskIds: $pre) { errors { code } } }"""
    assert gql.data(add, {"id": global_id("Task", task.pk), "pre": ids[:50]}) == {
        "taskAddPreTasks": {"errors": []}
    }
    refused = gql.data(add, {"id": global_id("Task", task.pk), "pre": ids[50:]})
    assert refused == {"taskAddPreTasks": {"errors": [{"code": "limit_reached"}]}}


def test_ten_aliases_of_pre_tasks_on_a_page_of_100_are_refused_before_any_sql(gql):
    aliases = " ".join(f"a{n}: preTasks {{ id title }}" for n in range(10))
    # Nothing of the operation: only the view's authentication of the session.
    with CaptureQueriesContext(connection) as captured:
        body = gql(f"{{ tasks(first: 100) {{ edges {{ node {{ {aliases} }} }} }} }}")
    assert only_authentication(captured.captured_queries)
    assert codes(body) == ["QUERY_TOO_COSTLY"]


def test_nested_ancestors_over_200_ancestors_are_refused(user, gql):
    tail = chain(user, 201)[-1]
    query = """query($id: ID!) { task(id: $id) {
      ancestors { items { task { ancestors { items { depth } } } } } } }"""
    body = gql(query, {"id": global_id("Task", tail.pk)})
    assert codes(body) == ["QUERY_TOO_COSTLY"]


def test_498_repeated_fields_are_answered_and_a_2_4_mb_comment_refused(gql):
    assert gql.data(repeated_field(498)) == {"me": {"email": "alice@example.com"}}
    assert codes(gql(huge_comment(2_400_000))) == ["QUERY_TOO_LARGE"]


def test_a_batch_cannot_multiply_the_request_budget(user, gql):
    TaskFactory.create_batch(3, owner=user)
    batch = [{"query": "{ taskOrder { id title } }"}] * 10
    response = gql.client.post("/graphql/", json.dumps(batch), content_type="application/json")
    answers = response.json()
    ran = [a for a in answers if "errors" not in a]
    # taskOrder costs 10,100 points: two fit in one request's 25,000.
    assert len(ran) == 2
    assert {code for a in answers[2:] for code in codes(a)} == {"QUERY_TOO_COSTLY"}


def test_a_heavy_client_is_throttled_per_minute(user, gql, settings):
    settings.GRAPHQL_COST_PER_MINUTE = 25_000
    from tests.security.test_query_cost import away_from_a_minute_boundary

    away_from_a_minute_boundary(2)
    query = "{ taskOrder { id } }"
    assert "errors" not in gql(query)
    assert "errors" not in gql(query)
    assert codes(gql(query)) == ["THROTTLED"]
