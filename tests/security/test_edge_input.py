"""Odd input is a clear, coded error: never an HTTP 500, never "Internal error"."""

import json
import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tasks.models import Reminder, Task
from tests.factories import TaskFactory
from tests.graphql import GraphQLClient, global_id
from users.models import ApiToken

pytestmark = pytest.mark.django_db

ME = "{ me { email } }"


def refusal(message: str, code: str) -> dict:
    return {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}


def post_raw(client: Client, body: bytes | str, content_type: str = "application/json"):
    return client.post("/graphql/", data=body, content_type=content_type)


SHAPE = "The request must be a GraphQL operation: a JSON object, or a non-empty list of them."


@pytest.mark.parametrize(
    "body",
    ['"x"', "1", "null", "true", '[1, "x", null]', '[[{"query": "{ me { email } }"}]]', "[]"],
    ids=["string", "number", "null", "boolean", "list-of-scalars", "nested-batch", "empty-batch"],
)
def test_a_body_that_is_not_an_operation_is_a_400_with_a_graphql_error(gql, body):
    response = post_raw(gql.client, body)
    assert response.status_code == 400
    assert response.json() == refusal(SHAPE, "BAD_REQUEST")


@pytest.mark.parametrize(
    "member,message",
    [
        ({"query": 1}, "`query` must be a string or null."),
        ({"query": ME, "variables": "x"}, "`variables` must be an object or null."),
        ({"query": ME, "variables": [1]}, "`variables` must be an object or null."),
        ({"query": ME, "operationName": 5}, "`operationName` must be a string or null."),
        ({"query": ME, "extensions": []}, "`extensions` must be an object or null."),
    ],
)
def test_each_member_of_an_operation_has_its_type_in_a_batch_too(gql, member, message):
    for body in (member, [{"query": ME}, member]):
        response = post_raw(gql.client, json.dumps(body))
        assert response.status_code == 400
        assert response.json() == refusal(message, "BAD_REQUEST")


def test_a_batch_larger_than_the_limit_is_refused(gql, settings):
    settings.GRAPHQL_MAX_BATCH = 2
    response = post_raw(gql.client, json.dumps([{"query": ME}] * 3))
    assert response.status_code == 400
    assert response.json() == refusal("A batch can hold at most 2 operations.", "BATCH_TOO_LARGE")
    response = post_raw(gql.client, json.dumps([{"query": ME}] * 2))
    assert [item["data"] for item in response.json()] == [
        {"me": {"email": "alice@example.com"}}
    ] * 2


TOO_MANY_MEMBERS = refusal(
    "The JSON holds more than 2,000 list items and object members; no operation of this API "
    "needs that many.",
    "JSON_TOO_MANY_MEMBERS",
)


def test_a_body_of_2000_members_is_answered_and_one_more_refused(gql):
    # query, variables, x and 1,997 items: 2,000 members (the unused variable is ignored).
    for items, answered in [(1997, True), (1998, False)]:
        body = {"query": ME, "variables": {"x": [1] * items}}
        response = post_raw(gql.client, json.dumps(body))
        if answered:
            assert response.json()["data"] == {"me": {"email": "alice@example.com"}}
        else:
            assert (response.status_code, response.json()) == (400, TOO_MANY_MEMBERS)


def test_the_largest_legitimate_request_fits(user, gql):
    # A full batch, each operation refetching the most nodes it may.
    ids = [global_id("Task", n) for n in range(1, 101)]
    document = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    body = [{"query": document, "variables": {"ids": ids}}] * 10
    response = post_raw(gql.client, json.dumps(body))
    assert [item["data"] for item in response.json()] == [{"nodes": [None] * 100}] * 10


@pytest.mark.parametrize(
    "document,variables",
    [
        # 4.5 s of CPU coercing 50,000 input objects before the resolver could refuse them.
        (
            "query($o: [TaskOrder!]) { tasks(order: $o) { totalCount } }",
            {"o": [{"field": "TITLE"}] * 50_000},
        ),
        ("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ["VGFzazox"] * 100_000}),
        (
            "query($f: TaskFilter) { tasks(filter: $f) { totalCount } }",
            {"f": {f"x{n}": 1 for n in range(50_000)}},
        ),
    ],
    ids=["order", "ids", "object-members"],
)
def test_a_variable_with_tens_of_thousands_of_members_is_refused_before_coercion(
    gql, document, variables
):
    response = post_raw(gql.client, json.dumps({"query": document, "variables": variables}))
    assert (response.status_code, response.json()) == (400, TOO_MANY_MEMBERS)


def test_invalid_utf8_is_refused_with_its_own_code(gql):
    response = post_raw(gql.client, b'{"query": "{ me { email } }\xff"}')
    assert response.status_code == 400
    assert response.json() == refusal("The request is not valid UTF-8.", "INVALID_UTF8")


@pytest.mark.parametrize("body", ["{", '{"query": NaN}', '{"query": "x", "variables": Infinity}'])
def test_anything_but_strict_json_is_refused(gql, body):
    response = post_raw(gql.client, body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "INVALID_JSON"}


@pytest.mark.parametrize("opening,closing", [("[", "]"), ('{"a": ', "}")])
def test_variables_nested_50000_deep_are_refused_before_parsing_recurses(gql, opening, closing):
    deep = opening * 50_000 + "1" + closing * 50_000
    body = '{"query": "query($f: TaskFilter) { tasks(filter: $f) { totalCount } }", '
    body += f'"variables": {{"f": {deep}}}}}'
    response = post_raw(gql.client, body)
    assert response.status_code == 400
    assert response.json() == refusal(
        "The JSON nests deeper than 32 levels.", "JSON_NESTED_TOO_DEEPLY"
    )


SURROGATE = refusal(
    "Text cannot contain lone UTF-16 surrogates (\\ud800-\\udfff): they are not characters "
    "and cannot be stored.",
    "LONE_SURROGATE",
)


@pytest.mark.parametrize(
    "document,variables",
    [
        ("mutation($v: String!) { taskCreate(input: {title: $v}) { errors { code } } }", None),
        (
            'mutation($v: String!) { taskCreate(input: {title: "t", description: $v}) '
            "{ errors { code } } }",
            None,
        ),
        ("query($v: String) { tasks(filter: {titleContains: $v}) { totalCount } }", None),
        ("mutation($v: String!) { userUpdate(input: {firstName: $v}) { errors { code } } }", None),
        (
            "mutation($v: String!) { apiTokenCreate(input: {name: $v, scopes: [READ]}) "
            "{ errors { code } } }",
            None,
        ),
        (
            'mutation($v: String!) { login(email: "a@example.com", password: $v) { errors { code } } }',
            None,
        ),
        ('mutation($v: String!) { login(email: $v, password: "x") { errors { code } } }', None),
        ("query { me { email } }", {"unused": "a\ud800b"}),
    ],
    ids=[
        "title",
        "description",
        "titleContains",
        "name",
        "token-name",
        "password",
        "email",
        "extra",
    ],
)
def test_a_lone_surrogate_anywhere_in_the_body_is_refused(gql, document, variables):
    variables = variables or {"v": "a\ud800b"}
    response = post_raw(gql.client, json.dumps({"query": document, "variables": variables}))
    assert response.status_code == 400
    assert response.json() == SURROGATE
    assert Task.objects.count() == 0


def test_a_lone_surrogate_escape_in_the_document_is_a_coded_syntax_error(gql):
    body = gql('mutation { taskCreate(input: {title: "a\\ud800b"}) { errors { code } } }')
    assert body["data"] is None
    assert (
        body["errors"][0]["message"] == "Syntax Error: Invalid Unicode escape sequence: '\\ud800'."
    )
    assert body["errors"][0]["extensions"] == {"code": "GRAPHQL_PARSE_FAILED"}


def test_a_surrogate_pair_is_a_character_like_any_other(gql):
    data = gql.data(
        "mutation($t: String!) { taskCreate(input: {title: $t}) { task { title } } }",
        {"t": "party \U0001f389"},
    )
    assert data["taskCreate"]["task"]["title"] == "party \U0001f389"


def test_get_requests_get_the_same_checks(gql):
    response = gql.client.get(
        "/graphql/", {"query": ME, "variables": '{"v": "\\ud800"}'}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400
    assert response.json() == SURROGATE
    response = gql.client.get(
        "/graphql/", {"query": ME, "variables": "[1]"}, HTTP_ACCEPT="application/json"
    )
    assert response.json() == refusal("`variables` must be an object or null.", "BAD_REQUEST")
    response = gql.client.get("/graphql/", {"query": ME}, HTTP_ACCEPT="application/json")
    assert response.json()["data"] == {"me": {"email": "alice@example.com"}}


def test_mutations_over_get_and_other_content_types_are_coded_refusals(gql):
    response = gql.client.get(
        "/graphql/", {"query": "mutation { logout { ok } }"}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}
    response = post_raw(gql.client, "query=x", "application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json() == refusal(
        "Send the operation as JSON (Content-Type: application/json).", "UNSUPPORTED_MEDIA_TYPE"
    )


OUT_OF_RANGE = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"]


def out_of_range_error(body: dict) -> None:
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "out_of_range"}
    assert "is outside the representable range once converted to UTC" in error["message"]


@pytest.mark.parametrize("moment", OUT_OF_RANGE)
def test_moments_that_overflow_in_utc_are_refused_everywhere(user, gql, moment, caplog):
    task = TaskFactory(owner=user, scheduled_at=timezone.now() + timedelta(days=1))
    tid = global_id("Task", task.pk)
    calls = [
        (
            'mutation($m: DateTime!) { taskCreate(input: {title: "t", scheduledAt: $m}) '
            "{ errors { code } } }",
            {},
        ),
        (
            "mutation($id: ID!, $m: DateTime!) { taskUpdate(id: $id, input: {scheduledAt: $m}) "
            "{ errors { code } } }",
            {"id": tid},
        ),
        (
            "mutation($id: ID!, $m: DateTime!) { reminderAdd(taskId: $id, input: {at: $m}) "
            "{ errors { code } } }",
            {"id": tid},
        ),
        (
            'mutation($m: DateTime!) { apiTokenCreate(input: {name: "n", scopes: [READ], '
            "expiresAt: $m}) { errors { code } } }",
            {},
        ),
        ("query($m: DateTime!) { tasks(filter: {scheduledAfter: $m}) { totalCount } }", {}),
        ("query($m: DateTime!) { tasks(filter: {scheduledBefore: $m}) { totalCount } }", {}),
    ]
    with caplog.at_level(logging.ERROR):
        for document, variables in calls:
            out_of_range_error(gql(document, {**variables, "m": moment}))
            literal = document.replace(", $m: DateTime!", "").replace("($m: DateTime!)", "")
            literal = literal.replace("$m", json.dumps(moment))
            out_of_range_error(gql(literal, variables))
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert Task.objects.count() == 1
    assert Reminder.objects.filter(minutes_before__isnull=True).count() == 0
    assert ApiToken.objects.count() == 0
    assert gql.data("{ apiTokens { name } }") == {"apiTokens": []}


def test_the_extremes_that_fit_in_utc_are_accepted(gql):
    data = gql.data(
        '{ a: tasks(filter: {scheduledAfter: "0001-01-01T00:00:00+00:00"}) { totalCount } '
        'b: tasks(filter: {scheduledBefore: "9999-12-31T23:59:59-00:00"}) { totalCount } }'
    )
    assert data == {"a": {"totalCount": 0}, "b": {"totalCount": 0}}


@pytest.mark.parametrize("name", ["scheduledAfter", "scheduledBefore"])
def test_a_naive_moment_in_a_filter_is_refused_as_in_mutations(gql, name):
    body = gql(f'{{ tasks(filter: {{{name}: "2030-01-01T00:00:00"}}) {{ totalCount }} }}')
    assert body["data"] is None
    assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
        (f"{name} needs a UTC offset, e.g. 2030-01-31T09:00:00+01:00.", {"code": "naive_datetime"})
    ]
    payload = gql.data(
        'mutation { taskCreate(input: {title: "t", scheduledAt: "2030-01-01T00:00:00"}) '
        "{ errors { code } } }"
    )
    assert payload["taskCreate"]["errors"] == [{"code": "naive_datetime"}]


def test_a_naive_token_expiry_is_a_payload_error_not_a_crash(gql):
    data = gql.data(
        'mutation { apiTokenCreate(input: {name: "n", scopes: [READ], '
        'expiresAt: "2030-01-01T00:00:00"}) { secret errors { field message code } } }'
    )
    assert data["apiTokenCreate"] == {
        "secret": None,
        "errors": [
            {
                "field": "expiresAt",
                "message": "The expiry needs a UTC offset, e.g. 2030-01-31T09:00:00+01:00.",
                "code": "naive_datetime",
            }
        ],
    }


@pytest.mark.parametrize("field", ["ancestors", "descendants"])
@pytest.mark.parametrize("depth", [-1, 0, 1001, 2**31 - 1])
def test_a_negative_or_absurd_max_depth_is_refused(user, gql, field, depth):
    task = TaskFactory(owner=user)
    body = gql(
        f"query($id: ID!, $d: Int) {{ task(id: $id) {{ {field}(maxDepth: $d) {{ items {{ depth }} }} }} }}",
        {"id": global_id("Task", task.pk), "d": depth},
    )
    assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
        (
            "maxDepth must be between 1 and 1000 (leave it out for every depth).",
            {"code": "out_of_range"},
        )
    ]
    ok = gql.data(
        f"query($id: ID!) {{ task(id: $id) {{ {field}(maxDepth: 1) {{ items {{ depth }} }} }} }}",
        {"id": global_id("Task", task.pk)},
    )
    assert ok == {"task": {field: {"items": []}}}


def raw_id(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


NON_CANONICAL = [
    raw_id("Task:016"),
    raw_id("Task:+16"),
    raw_id("Task: 16 "),
    raw_id("Task:١٦"),
    raw_id("Task:1_6"),
    raw_id("Task:16\n"),
    raw_id("Task:16").rstrip("="),
    raw_id("Task:16")[:4] + "\n" + raw_id("Task:16")[4:],
    raw_id("Task:16")[:4] + "!" + raw_id("Task:16")[4:],
    raw_id("Task:16").replace("+", "-"),
]


def test_only_the_canonical_spelling_of_an_id_names_an_object(user, gql):
    task = TaskFactory(owner=user, pk=16)
    canonical = global_id("Task", 16)
    get = "query($id: ID!) { task(id: $id) { title } }"
    assert gql.data(get, {"id": canonical}) == {"task": {"title": task.title}}
    delete = (
        "mutation($id: ID!) { taskDelete(id: $id) { deletedId errors { field message code } } }"
    )
    missing = {
        "deletedId": None,
        "errors": [{"field": "id", "message": "Task not found.", "code": "not_found"}],
    }
    node = "query($id: ID!) { node(id: $id) { id } }"
    assert gql.data(node, {"id": canonical}) == {"node": {"id": canonical}}
    for spelling in NON_CANONICAL:
        if spelling == canonical:
            continue
        assert gql.data(get, {"id": spelling}) == {"task": None}, spelling
        assert gql.data(node, {"id": spelling}) == {"node": None}, spelling
        assert gql.data(delete, {"id": spelling}) == {"taskDelete": missing}, spelling
    assert gql.data(delete, {"id": canonical}) == {
        "taskDelete": {"deletedId": canonical, "errors": []}
    }


def test_an_id_of_another_type_answers_exactly_like_a_missing_task(user, gql):
    from tests.security.tokens import token_for

    token, _ = token_for(user)
    task = TaskFactory(owner=user)
    at = timezone.now() + timedelta(days=1)
    reminder = Reminder.objects.create(task=task, remind_at=at, due_at=at)
    create = (
        'mutation($ids: [ID!]!) { taskCreate(input: {title: "t", preTaskIds: $ids}) '
        "{ errors { field message code } } }"
    )
    answers = [
        gql.data(create, {"ids": [other]})
        for other in (
            global_id("Task", 999_999),
            global_id("Reminder", reminder.pk),
            global_id("ApiToken", token.pk),
            global_id("User", user.pk),
            "garbage",
        )
    ]
    assert answers == [answers[0]] * 5
    assert answers[0]["taskCreate"]["errors"] == [
        {"field": "preTaskIds", "message": "1 of the pre-tasks do not exist.", "code": "not_found"}
    ]
    two = gql.data(create, {"ids": [global_id("Reminder", reminder.pk), "garbage"]})
    assert two["taskCreate"]["errors"][0]["message"] == "2 of the pre-tasks do not exist."


SUGGESTING = [
    "{ tasks(filtr: {status: OPEN}) { totalCount } }",
    "{ tasks(filter: {status: OPN}) { totalCount } }",
    "{ tasks(filter: {statu: OPEN}) { totalCount } }",
    "query($f: TaskFiltr) { tasks(filter: $f) { totalCount } }",
    "{ tasks { totlCount } }",
]


def test_no_suggestions_leak_the_schema_when_introspection_is_off(gql, settings):
    settings.GRAPHQL_INTROSPECTION = False
    messages = [e["message"] for q in SUGGESTING for e in gql(q)["errors"]]
    variable_errors = [
        gql("query($f: TaskFilter) { tasks(filter: $f) { totalCount } }", {"f": {"statu": "OPEN"}}),
        gql("query($f: TaskFilter) { tasks(filter: $f) { totalCount } }", {"f": {"status": "OPN"}}),
    ]
    messages += [e["message"] for body in variable_errors for e in body["errors"]]
    assert len(messages) == 7
    assert [m for m in messages if "Did you mean" in m] == []
    assert "Unknown argument 'filtr' on field 'Query.tasks'." in messages


def test_suggestions_stay_when_introspection_is_on(gql, settings):
    settings.GRAPHQL_INTROSPECTION = True
    body = gql(SUGGESTING[0])
    assert "Did you mean 'filter'" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "document,variables,code",
    [
        ("{ me { email }", None, "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", None, "GRAPHQL_VALIDATION_FAILED"),
        (
            'mutation { reminderAdd(taskId: "x", input: {at: "2030-01-01T00:00:00Z", '
            "minutesBefore: 3}) { errors { code } } }",
            None,
            "BAD_USER_INPUT",
        ),
        (
            '{ tasks(filter: {scheduledAfter: "next tuesday"}) { totalCount } }',
            None,
            "BAD_USER_INPUT",
        ),
        ("query($n: Int) { tasks(first: $n) { totalCount } }", {"n": "x"}, "BAD_USER_INPUT"),
        ("query($n: Int) { tasks(first: $n) { totalCount } }", {"n": -1}, "BAD_USER_INPUT"),
        (
            "{ tasks { edges { node { " + "preTasks { " * 12 + "id" + " }" * 15 + " }",
            None,
            "QUERY_TOO_DEEP",
        ),
        (
            "{ " + " ".join(f"a{n}: me {{ email }}" for n in range(31)) + " }",
            None,
            "TOO_MANY_ALIASES",
        ),
    ],
    ids=[
        "syntax",
        "unknown-field",
        "one-of",
        "bad-date",
        "bad-variable",
        "negative-first",
        "too-deep",
        "too-many-aliases",
    ],
)
def test_every_graphql_error_carries_a_code(gql, document, variables, code):
    body = gql(document, variables)
    assert body["errors"]
    assert [e["extensions"]["code"] for e in body["errors"]] == [code] * len(body["errors"])


def test_anonymous_callers_get_coded_errors_too(db):
    anon = GraphQLClient(Client())
    body = anon("{ tasks { totalCount } }")
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    response = post_raw(anon.client, "[1]")
    assert response.status_code == 400
    assert response.json() == refusal(SHAPE, "BAD_REQUEST")


def test_an_id_past_the_largest_key_answers_like_a_missing_one(gql):
    huge = global_id("Task", 2**63)
    assert gql.data(GET_TASK, {"id": huge}) == {"task": None}
    assert gql.data("query($id: ID!) { node(id: $id) { id } }", {"id": huge}) == {"node": None}
    payload = gql.data(
        "mutation($id: ID!) { taskDelete(id: $id) { errors { code } } }", {"id": huge}
    )
    assert payload == {"taskDelete": {"errors": [{"code": "not_found"}]}}


GET_TASK = "query($id: ID!) { task(id: $id) { title } }"
