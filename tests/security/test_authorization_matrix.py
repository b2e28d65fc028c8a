"""Every query and mutation that takes an id, called on another user's object by a second
user (session and API token) and anonymously: refused or not found, exactly as for an id that
does not exist, nothing of the victim's in the response, nothing changed in the database.

Adding an operation is one row in OPERATIONS; a new kind of object is one entry in
VICTIM_OBJECTS (how to make the victim's instance) and one in SNAPSHOT (its table).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from django.test import Client
from graphql import GraphQLInputObjectType, get_named_type

from schema.schema import schema
from tasks.models import Reminder, Task, TaskDependency
from tests.factories import DoneTaskFactory, ReminderFactory, TaskDependencyFactory, TaskFactory
from tests.graphql import GraphQLClient, global_id
from tests.security.tokens import bearer_client, token_for
from users.models import ApiToken, User
from webhooks.models import InboundHook, WebhookDelivery, WebhookEndpoint, WebhookEvent

pytestmark = pytest.mark.django_db

# Every victim string contains this marker, so a leak of any of them is one substring test.
MARK = "victim-secret"
MISSING_PK = 987_654_321
IN_A_WEEK = datetime(2030, 1, 8, 9, 0, tzinfo=UTC)

# How to make each kind of object the victim owns: name -> (GraphQL type, factory(victim)).
VICTIM_OBJECTS: dict[str, tuple[str, Callable[[User], object]]] = {
    "task": (
        "Task",
        lambda victim: (
            TaskDependencyFactory(
                task__owner=victim,
                task__title=f"{MARK} task",
                task__description=f"{MARK} description",
                pre_task__title=f"{MARK} pre-task",
            ).task
        ),
    ),
    "done_task": ("Task", lambda victim: DoneTaskFactory(owner=victim, title=f"{MARK} done")),
    "api_token": ("ApiToken", lambda victim: token_for(victim, name=f"{MARK} token")[0]),
    "user": ("User", lambda victim: victim),
    "reminder": (
        "Reminder",
        lambda victim: ReminderFactory(
            task=TaskFactory(owner=victim, title=f"{MARK} reminded", scheduled_at=IN_A_WEEK),
            remind_at=IN_A_WEEK,
        ),
    ),
    "webhook": ("WebhookEndpoint", lambda victim: victim_webhook(victim)),
    "webhook_delivery": ("WebhookDelivery", lambda victim: victim_delivery(victim)),
    "inbound_hook": (
        "InboundHook",
        lambda victim: InboundHook.objects.create(
            owner=victim,
            name=f"{MARK} hook",
            document="mutation { taskDelete(id: 1) { deletedId } }",
            secret="whsec_x",
        ),
    ),
}


def victim_webhook(victim: User) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        owner=victim, url=f"https://example.com/{MARK}", events=["task.created"], secret="whsec_x"
    )


def victim_delivery(victim: User) -> WebhookDelivery:
    event = WebhookEvent.objects.create(
        owner=victim, type="task.created", data={"title": MARK}, created_at=IN_A_WEEK
    )
    return WebhookDelivery.objects.create(
        event=event,
        endpoint=victim_webhook(victim),
        state="FAILED",
        next_attempt_at=IN_A_WEEK,
        created_at=IN_A_WEEK,
    )


@dataclass(frozen=True)
class Operation:
    name: str  # the root field
    target: str  # a key of VICTIM_OBJECTS
    document: str  # takes $id: the global ID of the target
    variables: Callable[[str], dict] = lambda id: {"id": id}
    # Refused to every API token (FORBIDDEN) before the id is looked at.
    session_only: bool = False


PAYLOAD = "errors { field message code }"
NODE_FIELDS = (
    "id ... on Task { title description } ... on User { email } ... on Reminder { remindAt } "
    "... on ApiToken { name }"
)
OPERATIONS = [
    *(
        Operation("node", target, f"query($id: ID!) {{ node(id: $id) {{ {NODE_FIELDS} }} }}")
        for target in ("task", "user", "reminder", "api_token")
    ),
    *(
        Operation(
            "nodes",
            target,
            f"query($ids: [ID!]!) {{ nodes(ids: $ids) {{ {NODE_FIELDS} }} }}",
            lambda id: {"ids": [id]},
        )
        for target in ("task", "user", "reminder", "api_token")
    ),
    Operation(
        "task",
        "task",
        "query($id: ID!) { task(id: $id) { id title description "
        "preTasks { title } dependents { title } } }",
    ),
    Operation(
        "taskUpdate",
        "task",
        f'mutation($id: ID!) {{ taskUpdate(id: $id, input: {{title: "pwned"}}) '
        f"{{ task {{ title }} {PAYLOAD} }} }}",
    ),
    Operation(
        "taskDelete",
        "task",
        f"mutation($id: ID!) {{ taskDelete(id: $id) {{ deletedId {PAYLOAD} }} }}",
    ),
    Operation(
        "taskComplete",
        "task",
        f"mutation($id: ID!) {{ taskComplete(id: $id) {{ task {{ title status }} {PAYLOAD} }} }}",
    ),
    Operation(
        "taskReopen",
        "done_task",
        f"mutation($id: ID!) {{ taskReopen(id: $id) {{ task {{ title status }} {PAYLOAD} }} }}",
    ),
    Operation(
        "taskCreate",
        "task",
        "mutation($input: TaskCreateInput!) { taskCreate(input: $input) "
        f"{{ task {{ title preTasks {{ title }} }} {PAYLOAD} }} }}",
        lambda id: {"input": {"title": "attach to theirs", "preTaskIds": [id]}},
    ),
    Operation(
        "taskAddPreTasks",
        "task",
        "mutation($id: ID!) { taskAddPreTasks(taskId: $id, preTaskIds: [$id]) "
        f"{{ task {{ title preTasks {{ title }} }} {PAYLOAD} }} }}",
    ),
    Operation(
        "taskRemovePreTasks",
        "task",
        "mutation($id: ID!) { taskRemovePreTasks(taskId: $id, preTaskIds: [$id]) "
        f"{{ task {{ title preTasks {{ title }} }} {PAYLOAD} }} }}",
    ),
    Operation(
        "taskOrder",
        "task",
        "query($id: ID!) { taskOrder(rootId: $id) { id title } }",
    ),
    Operation(
        "reminderAdd",
        "task",
        "mutation($taskId: ID!) { reminderAdd(taskId: $taskId, "
        'input: {at: "2030-01-02T09:00:00Z"}) '
        f"{{ reminder {{ remindAt state }} {PAYLOAD} }} }}",
        lambda id: {"taskId": id},
    ),
    Operation(
        "reminderDelete",
        "reminder",
        f"mutation($id: ID!) {{ reminderDelete(id: $id) {{ deletedId {PAYLOAD} }} }}",
    ),
    Operation(
        "apiTokenRevoke",
        "api_token",
        f"mutation($id: ID!) {{ apiTokenRevoke(id: $id) "
        f"{{ apiToken {{ name revokedAt }} {PAYLOAD} }} }}",
    ),
    Operation(
        "webhookUpdate",
        "webhook",
        "mutation($id: ID!) { webhookUpdate(id: $id, input: {enabled: false}) "
        f"{{ webhook {{ url enabled }} {PAYLOAD} }} }}",
    ),
    Operation(
        "webhookSecretRotate",
        "webhook",
        f"mutation($id: ID!) {{ webhookSecretRotate(id: $id) {{ secret {PAYLOAD} }} }}",
    ),
    Operation(
        "webhookDelete",
        "webhook",
        f"mutation($id: ID!) {{ webhookDelete(id: $id) {{ deletedId {PAYLOAD} }} }}",
    ),
    Operation(
        "webhookDeliveries",
        "webhook",
        "query($id: ID!) { webhookDeliveries(webhookId: $id) { webhookId payload } }",
    ),
    Operation(
        "webhookDeliveryRetry",
        "webhook_delivery",
        "mutation($id: ID!) { webhookDeliveryRetry(id: $id) "
        f"{{ delivery {{ state payload }} {PAYLOAD} }} }}",
    ),
    Operation(
        "inboundHookUpdate",
        "inbound_hook",
        'mutation($id: ID!) { inboundHookUpdate(id: $id, input: {name: "pwned"}) '
        f"{{ inboundHook {{ name document }} {PAYLOAD} }} }}",
    ),
    Operation(
        "inboundHookSecretRotate",
        "inbound_hook",
        f"mutation($id: ID!) {{ inboundHookSecretRotate(id: $id) {{ secret {PAYLOAD} }} }}",
        session_only=True,
    ),
    Operation(
        "inboundHookDelete",
        "inbound_hook",
        f"mutation($id: ID!) {{ inboundHookDelete(id: $id) {{ deletedId {PAYLOAD} }} }}",
    ),
    Operation(
        "inboundHookDeliveries",
        "inbound_hook",
        "query($id: ID!) { inboundHookDeliveries(hookId: $id) { webhookId response } }",
    ),
]

CALLERS = ["anonymous", "other user's session", "other user's API token"]


# Every table an attack could change, and the columns to compare (None: all). The attacker's
# own token is left out of the comparison only in its last_used_at column.
SNAPSHOT: dict[type, tuple[str, ...] | None] = {
    Task: None,
    TaskDependency: None,
    Reminder: None,
    ApiToken: ("pk", "user_id", "name", "scopes", "expires_at", "revoked_at"),
    User: ("pk", "email", "password", "first_name", "last_name", "timezone", "is_active"),
    WebhookEndpoint: None,
    WebhookDelivery: None,
    InboundHook: None,
}


def snapshot() -> str:
    """Every row of every table in SNAPSHOT, as comparable text."""
    return json.dumps(
        {
            model.__name__: list(model.objects.order_by("pk").values(*(fields or ())))
            for model, fields in SNAPSHOT.items()
        },
        default=str,
    )


def client_for(caller: str, attacker: User) -> GraphQLClient:
    if caller == "anonymous":
        return GraphQLClient(Client())
    if caller == "other user's session":
        client = Client()
        client.force_login(attacker)
        return GraphQLClient(client)
    return bearer_client(token_for(attacker, name="attacker's script")[1])


def without_budget(body: dict) -> dict:
    """The body without the caller's remaining budget, which every request lowers."""
    cost = body.get("extensions", {}).get("cost", {})
    return {**body, "extensions": {"cost": {k: v for k, v in cost.items() if k != "minute"}}}


def assert_refused(body: dict, operation: Operation, caller: str) -> None:
    if caller == "anonymous":
        assert body["data"] in (None, {operation.name: None})
        assert [e["extensions"] for e in body["errors"]] == [{"code": "UNAUTHENTICATED"}]
        return
    if operation.session_only and caller == "other user's API token":
        assert [e["extensions"] for e in body["errors"]] == [{"code": "FORBIDDEN"}]
        return
    assert "errors" not in body, body
    value = body["data"][operation.name]
    if value is None or value == []:  # a query for one object, or for a list of its children
        return
    if isinstance(value, list):  # a query for several objects
        assert value == [None]
        return
    assert [e["code"] for e in value["errors"]] == ["not_found"]
    assert {v for k, v in value.items() if k != "errors"} == {None}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_another_users_object_is_out_of_reach(operation, caller, user, other_user):
    victim, attacker = user, other_user
    type_name, make = VICTIM_OBJECTS[operation.target]
    target = make(victim)
    client = client_for(caller, attacker)
    before = snapshot()

    body = client(operation.document, operation.variables(global_id(type_name, target.pk)))
    missing = client(operation.document, operation.variables(global_id(type_name, MISSING_PK)))

    assert_refused(body, operation, caller)
    assert without_budget(body) == without_budget(missing), (
        "another user's object must look exactly like a missing one"
    )
    assert MARK not in json.dumps(body)
    assert snapshot() == before


LISTS = {
    "tasks": "{ tasks { totalCount edges { node { title preTasks { title } } } } }",
    "apiTokens": "{ apiTokens { name } }",
    "webhooks": "{ webhooks { url description } }",
    "inboundHooks": "{ inboundHooks { name document } }",
    "me": "{ me { email firstName } }",
}


@pytest.mark.parametrize("caller", CALLERS[1:])
@pytest.mark.parametrize("query", sorted(LISTS))
def test_lists_show_nothing_of_another_user(query, caller, user, other_user):
    for _, make in VICTIM_OBJECTS.values():
        make(user)
    TaskFactory(owner=other_user, title="mine")
    body = client_for(caller, other_user)(LISTS[query])
    assert "errors" not in body
    assert MARK not in json.dumps(body)
    assert "alice" not in json.dumps(body)


def takes_an_id(type_, seen: frozenset[str] = frozenset()) -> bool:
    named = get_named_type(type_)
    if named.name == "ID":
        return True
    if isinstance(named, GraphQLInputObjectType) and named.name not in seen:
        return any(takes_an_id(f.type, seen | {named.name}) for f in named.fields.values())
    return False


def test_the_matrix_covers_every_root_field_that_takes_an_id():
    root_types = (schema._schema.query_type, schema._schema.mutation_type)
    taking_ids = {
        name
        for root in root_types
        for name, field in root.fields.items()
        if any(takes_an_id(arg.type) for arg in field.args.values())
    }
    assert taking_ids == {op.name for op in OPERATIONS}
