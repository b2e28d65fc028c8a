"""Relay as clients rely on it: IDs that name their type, and node/nodes refetching."""

import base64
from datetime import UTC, datetime

import pytest
from django.test import Client

from tasks.models import Reminder
from tests.factories import TaskFactory
from tests.graphql import GraphQLClient, global_id
from tests.security.test_authorization_matrix import victim_delivery
from tests.security.tokens import bearer_client, token_for
from webhooks.models import InboundHook

pytestmark = pytest.mark.django_db

PASSWORD = "a long passphrase 42"
IN_A_WEEK = datetime(2030, 1, 8, 9, 0, tzinfo=UTC)
USER_FIELDS = "user { id email } errors { code }"


def test_the_same_user_has_the_same_id_whichever_field_returns_it():
    gql = GraphQLClient(Client())
    registered = gql.data(
        f'mutation {{ register(input: {{email: "ids@example.com", password: "{PASSWORD}"}}) '
        f"{{ {USER_FIELDS} }} }}"
    )["register"]["user"]
    me = gql.data("{ me { id __typename } }")["me"]
    changed = gql.data(
        f'mutation {{ passwordChange(oldPassword: "{PASSWORD}", newPassword: "{PASSWORD}!") '
        f"{{ {USER_FIELDS} }} }}"
    )["passwordChange"]["user"]
    gql.data("mutation { logout { ok } }")
    logged_in = gql.data(
        f'mutation {{ login(email: "ids@example.com", password: "{PASSWORD}!") '
        f"{{ {USER_FIELDS} }} }}"
    )["login"]["user"]
    updated = gql.data(
        f'mutation {{ userUpdate(input: {{firstName: "Ada"}}) {{ {USER_FIELDS} }} }}'
    )["userUpdate"]["user"]

    expected = global_id("User", _user_pk("ids@example.com"))
    assert {registered["id"], me["id"], changed["id"], logged_in["id"], updated["id"]} == {expected}
    assert me["__typename"] == "User"


def _user_pk(email: str) -> int:
    from users.models import User

    return User.objects.get(email=email).pk


NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Task { title preTasks { id title } }
    ... on User { email }
    ... on Reminder { remindAt }
    ... on ApiToken { name }
    ... on WebhookEndpoint { url }
    ... on WebhookDelivery { webhookId }
    ... on InboundHook { name }
  }
}
"""


def _objects(user):
    task = TaskFactory(owner=user, title="mine", scheduled_at=IN_A_WEEK)
    task.pre_tasks.add(TaskFactory(owner=user, title="first"))
    reminder = Reminder.objects.create(task=task, remind_at=IN_A_WEEK, due_at=IN_A_WEEK)
    token, _ = token_for(user, name="script")
    delivery = victim_delivery(user)
    hook = InboundHook.objects.create(owner=user, name="CI", document="x", secret="whsec_x")
    return {
        "Task": (task.pk, {"title": "mine", "preTasks": [{"title": "first"}]}),
        "User": (user.pk, {"email": user.email}),
        "Reminder": (reminder.pk, {"remindAt": "2030-01-08T09:00:00+00:00"}),
        "ApiToken": (token.pk, {"name": "script"}),
        "WebhookEndpoint": (delivery.endpoint_id, {"url": delivery.endpoint.url}),
        "WebhookDelivery": (delivery.pk, {"webhookId": delivery.event.webhook_id}),
        "InboundHook": (hook.pk, {"name": "CI"}),
    }


def test_node_refetches_every_type_with_a_global_id(user, gql):
    for type_name, (pk, fields) in _objects(user).items():
        node = gql.data(NODE, {"id": global_id(type_name, pk)})["node"]

        assert node["__typename"] == type_name
        assert node["id"] == global_id(type_name, pk)
        for name, value in fields.items():
            if name == "preTasks":
                assert [{"title": t["title"]} for t in node[name]] == value
            else:
                assert node[name] == value


def test_another_users_objects_answer_null_like_missing_ones(user, other_gql):
    for type_name, (pk, _) in _objects(user).items():
        theirs = other_gql(NODE, {"id": global_id(type_name, pk)})
        missing = other_gql(NODE, {"id": global_id(type_name, 987_654_321)})

        # Alike but for the caller's budget left this minute, which each request lowers.
        assert (
            theirs.pop("extensions")["cost"]["requested"]
            == (missing.pop("extensions")["cost"]["requested"])
        )
        assert theirs == missing == {"data": {"node": None}}


def test_nodes_answers_in_order_with_null_for_what_the_caller_cannot_see(
    user, other_user, gql, django_assert_num_queries
):
    mine = [TaskFactory(owner=user, title=f"t{n}") for n in range(3)]
    theirs = TaskFactory(owner=other_user, title="theirs")
    ids = [
        global_id("Task", mine[2].pk),
        global_id("Task", theirs.pk),
        global_id("User", user.pk),
        global_id("Task", mine[0].pk),
        global_id("Nope", 1),
        global_id("Task", 987_654_321),
        global_id("User", other_user.pk),
    ]
    document = "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Task { title } } }"

    # session, user, one query for the tasks, one for the users
    with django_assert_num_queries(4):
        nodes = gql.data(document, {"ids": ids})["nodes"]

    assert nodes == [
        {"id": ids[0], "title": "t2"},
        None,
        {"id": ids[2]},
        {"id": ids[3], "title": "t0"},
        None,
        None,
        None,
    ]


def test_nodes_takes_at_most_100_ids(gql):
    body = gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        {"ids": [global_id("Task", n) for n in range(101)]},
    )
    assert body["data"] is None
    assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
        ("Argument 'ids' cannot hold more than 100 items.", {"code": "BAD_USER_INPUT"})
    ]


def test_node_works_with_an_api_token_and_refuses_anonymous_callers(user, anon):
    task = TaskFactory(owner=user, title="scripted")
    _, secret = token_for(user, name="script")
    document = "query($id: ID!) { node(id: $id) { ... on Task { title } } }"

    assert bearer_client(secret).data(document, {"id": global_id("Task", task.pk)}) == {
        "node": {"title": "scripted"}
    }
    body = anon(document, {"id": global_id("Task", task.pk)})
    assert body["data"] == {"node": None}
    assert [e["extensions"] for e in body["errors"]] == [{"code": "UNAUTHENTICATED"}]


def test_a_graphql_type_names_its_ids_even_for_lazy_request_users(user, gql):
    """request.user is a SimpleLazyObject; its ID must still say User."""
    assert gql.data("{ me { id } }") == {"me": {"id": global_id("User", user.pk)}}


@pytest.mark.parametrize(
    "node_id",
    [
        global_id("Task", 2**70),
        global_id("Task", -1),
        base64.b64encode(b"Task:abc").decode(),
        base64.b64encode(b"Task:").decode(),
        base64.b64encode(b"SimpleLazyObject:1").decode(),
    ],
    ids=["huge", "negative", "not-a-number", "empty", "unknown-type"],
)
def test_ids_that_name_nothing_answer_null(gql, node_id):
    assert gql.data("query($id: ID!) { node(id: $id) { id } }", {"id": node_id}) == {"node": None}
    assert gql.data("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": [node_id]}) == {
        "nodes": [None]
    }


def test_an_id_that_is_not_a_global_id_answers_like_a_missing_one(gql):
    # Only canonical global IDs name objects (issue 10): anything else is simply not found.
    data = gql.data("query($id: ID!) { node(id: $id) { id } }", {"id": "not base64!"})
    assert data == {"node": None}


def test_node_resolves_every_type_that_implements_node():
    from schema.nodes import NODE_TYPES
    from tests.graphql import node_type_names

    assert (
        set(NODE_TYPES)
        == node_type_names()
        == {
            "Task",
            "User",
            "Reminder",
            "ApiToken",
            "WebhookEndpoint",
            "WebhookDelivery",
            "InboundHook",
        }
    )
