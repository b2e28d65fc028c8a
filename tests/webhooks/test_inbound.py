"""Inbound hooks: created with a validated mutation, run by signed requests (signed here with
the `standardwebhooks` package, as a sender would), replays answered once, bad signatures and
old timestamps refused, variables from top-level keys or JSON pointers, the delivery log."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from standardwebhooks import Webhook

from tasks.models import Task
from tests.graphql import global_id
from tests.security.tokens import bearer_client, token_for
from webhooks.models import InboundHook

pytestmark = pytest.mark.django_db

CREATE_TASK = (
    "mutation($title: String!, $description: String) {"
    " taskCreate(input: {title: $title, description: $description})"
    " { task { title description } errors { field code } } }"
)

HOOK_CREATE = """
mutation($input: InboundHookCreateInput!) {
  inboundHookCreate(input: $input) {
    inboundHook { id name url enabled variables }
    secret
    errors { field message code }
  }
}"""

DELIVERIES = """
query($id: ID!) { inboundHookDeliveries(hookId: $id) { webhookId statusCode replayed response } }
"""


def make_hook(gql, document=CREATE_TASK, variables=None) -> dict:
    data = gql.data(
        HOOK_CREATE, {"input": {"name": "CI", "document": document, "variables": variables}}
    )["inboundHookCreate"]
    assert data["errors"] == [], data["errors"]
    return data


def send(url: str, secret: str, payload: dict, *, msg_id=None, at=None, raw: bytes | None = None):
    body = raw if raw is not None else json.dumps(payload).encode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(tz=UTC)
    signature = Webhook(secret).sign(msg_id=msg_id, timestamp=at, data=body.decode())
    return Client().post(
        url,
        data=body,
        content_type="application/json",
        headers={
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature,
        },
    )


def path(hook: dict) -> str:
    return hook["inboundHook"]["url"].removeprefix("http://testserver")


def test_a_signed_request_runs_the_mutation_as_the_owner(gql, user):
    hook = make_hook(gql)
    assert hook["secret"].startswith("whsec_")
    assert hook["inboundHook"]["url"].startswith("http://testserver/hooks/")

    response = send(path(hook), hook["secret"], {"title": "From CI", "description": "build 42"})

    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "taskCreate": {"task": {"title": "From CI", "description": "build 42"}, "errors": []}
        }
    }
    assert Task.objects.get().owner == user


def test_a_retry_with_the_same_webhook_id_runs_once_and_replays(gql):
    hook = make_hook(gql)
    first = send(path(hook), hook["secret"], {"title": "Once"}, msg_id="msg_1")
    again = send(path(hook), hook["secret"], {"title": "Once"}, msg_id="msg_1")

    assert again.status_code == 200
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert Task.objects.count() == 1
    other_body = send(path(hook), hook["secret"], {"title": "Changed"}, msg_id="msg_1")
    assert other_body.status_code == 422
    assert other_body.json()["errors"][0]["extensions"] == {"code": "IDEMPOTENCY_KEY_REUSED"}

    log = gql.data(DELIVERIES, {"id": hook["inboundHook"]["id"]})["inboundHookDeliveries"]
    assert [(d["webhookId"], d["statusCode"], d["replayed"]) for d in log] == [
        ("msg_1", 200, True),
        ("msg_1", 200, False),
    ]
    assert json.loads(log[1]["response"])["data"]["taskCreate"]["task"]["title"] == "Once"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("wrong secret", "Signature check failed: No matching signature found."),
        ("old timestamp", "Signature check failed: Message timestamp too old."),
        ("future timestamp", "Signature check failed: Message timestamp too new."),
        ("no headers", "Signature check failed: Missing required headers."),
    ],
)
def test_unsigned_badly_signed_or_stale_requests_are_refused(gql, case, message):
    hook = make_hook(gql)
    secret = hook["secret"]
    if case == "wrong secret":
        response = send(path(hook), "whsec_" + "B" * 43, {"title": "x"})
    elif case == "old timestamp":
        response = send(
            path(hook), secret, {"title": "x"}, at=datetime.now(UTC) - timedelta(minutes=6)
        )
    elif case == "future timestamp":
        response = send(
            path(hook), secret, {"title": "x"}, at=datetime.now(UTC) + timedelta(minutes=6)
        )
    else:
        response = Client().post(path(hook), data="{}", content_type="application/json")
    assert response.status_code == 401
    assert response.json()["errors"] == [
        {
            "message": message + " Sign with the hook's secret (Standard Webhooks).",
            "extensions": {"code": "SIGNATURE_INVALID"},
        }
    ]
    assert Task.objects.count() == 0


def test_variables_from_json_pointers(gql):
    hook = make_hook(
        gql,
        variables={"title": "/pull_request/title", "description": "/labels/1/name"},
    )
    payload = {
        "pull_request": {"title": "Fix login"},
        "labels": [{"name": "a"}, {"name": "urgent"}],
    }
    response = send(path(hook), hook["secret"], payload)
    assert response.json()["data"]["taskCreate"]["task"] == {
        "title": "Fix login",
        "description": "urgent",
    }


def test_a_missing_variable_is_a_graphql_error_not_a_500(gql):
    hook = make_hook(gql)
    response = send(path(hook), hook["secret"], {"unrelated": 1})
    assert response.status_code == 400
    assert response.json()["data"] is None
    assert "title" in response.json()["errors"][0]["message"]
    assert Task.objects.count() == 0


def test_bodies_that_are_not_json_or_too_large(gql, settings):
    hook = make_hook(gql)
    response = send(path(hook), hook["secret"], {}, raw=b"not json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_JSON"}
    settings.INBOUND_HOOK_MAX_BODY_BYTES = 10
    response = send(path(hook), hook["secret"], {"title": "long enough"})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"] == {"code": "BODY_TOO_LARGE"}


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("{ tasks { totalCount } }", "The document must be a mutation."),
        (
            "mutation { a: taskDelete(id: 1) { deletedId } } mutation B { taskReopen(id: 1) { task { id } } }",
            "The document must hold exactly one operation.",
        ),
        ("mutation { nope }", "Cannot query field 'nope' on type 'Mutation'."),
        ("mutation {", "Syntax Error: Expected Name, found <EOF>."),
    ],
)
def test_the_document_is_validated_when_saved(gql, document, problem):
    data = gql.data(HOOK_CREATE, {"input": {"name": "Bad", "document": document}})
    assert data["inboundHookCreate"]["errors"] == [
        {"field": "document", "message": problem, "code": "invalid_document"}
    ]
    assert not InboundHook.objects.exists()


def test_a_hook_past_the_owners_maximum_is_refused_and_not_written(gql, settings):
    settings.INBOUND_HOOK_MAX_PER_USER = 1
    make_hook(gql)

    over = gql.data(HOOK_CREATE, {"input": {"name": "Second", "document": CREATE_TASK}})

    assert over["inboundHookCreate"] == {
        "inboundHook": None,
        "secret": None,
        "errors": [
            {
                "field": None,
                "message": "You have 1 hooks, the most allowed: delete one first.",
                "code": "limit_reached",
            }
        ],
    }
    assert InboundHook.objects.count() == 1


def test_disabled_rotated_and_deleted_hooks(gql):
    hook = make_hook(gql)
    hook_id = hook["inboundHook"]["id"]
    gql.data(
        "mutation($id: ID!) { inboundHookUpdate(id: $id, input: {enabled: false}) { errors { code } } }",
        {"id": hook_id},
    )
    assert send(path(hook), hook["secret"], {"title": "x"}).status_code == 404
    gql.data(
        "mutation($id: ID!) { inboundHookUpdate(id: $id, input: {enabled: true}) { errors { code } } }",
        {"id": hook_id},
    )
    rotated = gql.data(
        "mutation($id: ID!) { inboundHookSecretRotate(id: $id) { secret } }", {"id": hook_id}
    )["inboundHookSecretRotate"]["secret"]
    assert send(path(hook), hook["secret"], {"title": "old secret"}).status_code == 401
    assert send(path(hook), rotated, {"title": "new secret"}).status_code == 200
    gql.data("mutation($id: ID!) { inboundHookDelete(id: $id) { deletedId } }", {"id": hook_id})
    assert send(path(hook), rotated, {"title": "gone"}).status_code == 404
    assert list(Task.objects.values_list("title", flat=True)) == ["new secret"]


def test_hooks_are_managed_from_sessions_only_and_cannot_reach_session_only_operations(gql, user):
    _, secret = token_for(user)
    by_token = bearer_client(secret)(HOOK_CREATE, {"input": {"name": "x", "document": CREATE_TASK}})
    assert by_token["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    # A hook acts like a WRITE API token: minting tokens is refused.
    hook = make_hook(
        gql,
        document='mutation { apiTokenCreate(input: {name: "x", scopes: [WRITE]}) { secret } }',
    )
    response = send(path(hook), hook["secret"], {})
    assert response.json()["errors"][0]["extensions"] == {"code": "FORBIDDEN"}


def test_another_users_hook_is_out_of_reach(gql, other_gql):
    hook = make_hook(gql)
    hook_id = hook["inboundHook"]["id"]
    assert other_gql.data("{ inboundHooks { id } }") == {"inboundHooks": []}
    assert other_gql.data(DELIVERIES, {"id": hook_id}) == {"inboundHookDeliveries": []}
    deleted = other_gql.data(
        "mutation($id: ID!) { inboundHookDelete(id: $id) { deletedId errors { code } } }",
        {"id": hook_id},
    )
    assert deleted["inboundHookDelete"] == {"deletedId": None, "errors": [{"code": "not_found"}]}
    assert other_gql.data(
        "mutation($id: ID!) { inboundHookDelete(id: $id) { errors { code } } }",
        {"id": global_id("InboundHook", "not-a-uuid")},
    )["inboundHookDelete"]["errors"] == [{"code": "not_found"}]


def test_an_unknown_hook_and_a_get(gql):
    response = Client().post(f"/hooks/{uuid.uuid4()}/", data="{}", content_type="application/json")
    assert response.status_code == 404
    hook = make_hook(gql)
    assert Client().get(path(hook)).status_code == 405


def test_the_log_keeps_the_newest_deliveries(gql, settings):
    from webhooks.hooks import PRUNE_EVERY
    from webhooks.models import InboundDelivery

    settings.INBOUND_DELIVERIES_KEPT = 3
    hook = make_hook(gql)
    for n in range(2 * PRUNE_EVERY):
        send(path(hook), hook["secret"], {"title": f"T{n}"}, msg_id=f"msg_{n}")
    last = InboundDelivery.objects.latest("pk").pk
    kept = list(InboundDelivery.objects.order_by("pk").values_list("webhook_id", flat=True))
    assert len(kept) == 3 + last % PRUNE_EVERY
    assert kept[-1] == f"msg_{2 * PRUNE_EVERY - 1}"
