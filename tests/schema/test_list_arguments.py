"""Every size and list argument of the schema refuses what it cannot honour, the way `tasks`
does: a GraphQL error with code BAD_USER_INPUT, never a silently shortened or emptied list."""

from datetime import timedelta

import pytest
from django.utils import timezone
from graphql import GraphQLList, GraphQLNonNull

from schema.schema import schema
from tasks.models import Task, TaskDependency
from tests.factories import TaskFactory
from tests.graphql import global_id
from webhooks.models import (
    InboundDelivery,
    InboundHook,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

pytestmark = pytest.mark.django_db

BAD_USER_INPUT = {"code": "BAD_USER_INPUT"}


@pytest.fixture
def task(user):
    return TaskFactory(owner=user, title="root")


@pytest.fixture
def endpoint(user):
    return WebhookEndpoint.objects.create(
        owner=user, url="https://example.com/hook", events=["task.created"], secret="whsec_x"
    )


@pytest.fixture
def hook(user):
    return InboundHook.objects.create(
        owner=user, name="CI", document="mutation { taskReopen(id: 1) { errors { code } } }"
    )


# (type, field, argument) -> the request, its cap, and the data it answers when refused.
SIZE_ARGUMENTS = {
    ("Query", "tasks", "first"): (
        "query($n: Int) { tasks(first: $n) { totalCount } }",
        100,
        None,
    ),
    ("Query", "tasks", "last"): (
        "query($n: Int) { tasks(last: $n) { totalCount } }",
        100,
        None,
    ),
    ("Query", "taskOrder", "first"): (
        "query($n: Int) { taskOrder(first: $n) { id } }",
        10_000,
        {"taskOrder": None},
    ),
    ("Task", "dependents", "first"): (
        "query($id: ID!, $n: Int) { task(id: $id) { dependents(first: $n) { id } } }",
        100,
        {"task": None},
    ),
    ("Task", "ancestors", "first"): (
        "query($id: ID!, $n: Int) { task(id: $id) { ancestors(first: $n) { truncated } } }",
        200,
        {"task": None},
    ),
    ("Task", "descendants", "first"): (
        "query($id: ID!, $n: Int) { task(id: $id) { descendants(first: $n) { truncated } } }",
        200,
        {"task": None},
    ),
    ("Query", "webhookDeliveries", "first"): (
        "query($id: ID!, $n: Int!) { webhookDeliveries(webhookId: $id, first: $n) { id } }",
        100,
        None,
    ),
    ("Query", "inboundHookDeliveries", "first"): (
        "query($id: ID!, $n: Int!) { inboundHookDeliveries(hookId: $id, first: $n) { webhookId } }",
        100,
        None,
    ),
}

# List arguments, and how each is bounded.
LIST_ARGUMENTS = {
    ("Query", "nodes", "ids"): "at most 100 items (test_nodes_takes_at_most_100_ids)",
    ("Query", "tasks", "order"): "each field once (below)",
    ("Mutation", "taskAddPreTasks", "preTaskIds"): "TASK_MAX_PRE_TASKS, a payload error",
    ("Mutation", "taskRemovePreTasks", "preTaskIds"): "IDs that are not pre-tasks are no-ops",
}


def _list_type(type_) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


def _schema_arguments():
    for type_name, type_ in schema._schema.type_map.items():
        for field_name, field in getattr(type_, "fields", {}).items():
            for argument_name, argument in (getattr(field, "args", None) or {}).items():
                yield (type_name, field_name, argument_name), argument


def test_every_size_and_list_argument_of_the_schema_is_covered_here():
    sizes = {key for key, _ in _schema_arguments() if key[2] in ("first", "last", "limit")}
    lists = {key for key, argument in _schema_arguments() if _list_type(argument.type)}
    assert sizes == set(SIZE_ARGUMENTS)
    assert lists == set(LIST_ARGUMENTS)


def _id_for(key, task, endpoint, hook) -> str:
    if key[1] == "webhookDeliveries":
        return global_id("WebhookEndpoint", endpoint.pk)
    if key[1] == "inboundHookDeliveries":
        return global_id("InboundHook", hook.pk)
    return global_id("Task", task.pk)


@pytest.mark.parametrize("key", list(SIZE_ARGUMENTS), ids="-".join)
@pytest.mark.parametrize("over", ["too-large", "negative"])
def test_a_size_out_of_range_is_refused_with_the_connections_error(
    gql, task, endpoint, hook, key, over
):
    document, cap, refused_data = SIZE_ARGUMENTS[key]
    value, message = {
        "too-large": (cap + 1, f"Argument '{key[2]}' cannot be higher than {cap}."),
        "negative": (-1, f"Argument '{key[2]}' must be a non-negative integer."),
    }[over]
    path = ["task", key[1]] if key[0] == "Task" else [key[1]]
    body = gql(document, {"id": _id_for(key, task, endpoint, hook), "n": value})
    assert body["data"] == refused_data
    assert [(e["message"], e["path"], e["extensions"]) for e in body["errors"]] == [
        (message, path, BAD_USER_INPUT)
    ]


@pytest.mark.parametrize("key", list(SIZE_ARGUMENTS), ids="-".join)
@pytest.mark.parametrize("value", ["cap", "zero"])
def test_a_size_from_zero_to_the_cap_is_answered(gql, task, endpoint, hook, key, value):
    document, cap, _ = SIZE_ARGUMENTS[key]
    n = cap if value == "cap" else 0
    body = gql(document, {"id": _id_for(key, task, endpoint, hook), "n": n})
    assert "errors" not in body, body["errors"]


def _deliveries(endpoint, count: int) -> None:
    now = timezone.now()
    events = WebhookEvent.objects.bulk_create(
        [
            WebhookEvent(
                owner=endpoint.owner,
                type="task.created",
                data={"n": n},
                created_at=now + timedelta(seconds=n),
            )
            for n in range(count)
        ]
    )
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                event=event, endpoint=endpoint, next_attempt_at=now, created_at=event.created_at
            )
            for event in events
        ]
    )


def test_webhook_deliveries_answer_first_newest_up_to_100_and_20_by_default(gql, endpoint):
    _deliveries(endpoint, 101)
    read = "query($id: ID!, $n: Int!) { webhookDeliveries(webhookId: $id, first: $n) { payload } }"
    webhook = global_id("WebhookEndpoint", endpoint.pk)
    page = gql.data(read, {"id": webhook, "n": 100})["webhookDeliveries"]
    assert [d["payload"]["n"] for d in page] == list(range(100, 0, -1))
    default = "query($id: ID!) { webhookDeliveries(webhookId: $id) { payload } }"
    page = gql.data(default, {"id": webhook})["webhookDeliveries"]
    assert [d["payload"]["n"] for d in page] == list(range(100, 80, -1))
    assert gql.data(read, {"id": webhook, "n": 0}) == {"webhookDeliveries": []}


def test_inbound_hook_deliveries_answer_first_newest_up_to_100_and_20_by_default(gql, hook):
    now = timezone.now()
    InboundDelivery.objects.bulk_create(
        [
            InboundDelivery(
                hook=hook,
                webhook_id=f"msg_{n}",
                received_at=now + timedelta(seconds=n),
                status_code=200,
            )
            for n in range(101)
        ]
    )
    read = (
        "query($id: ID!, $n: Int!) { inboundHookDeliveries(hookId: $id, first: $n) { webhookId } }"
    )
    hook_id = global_id("InboundHook", hook.pk)
    page = gql.data(read, {"id": hook_id, "n": 100})["inboundHookDeliveries"]
    assert [d["webhookId"] for d in page] == [f"msg_{n}" for n in range(100, 0, -1)]
    default = "query($id: ID!) { inboundHookDeliveries(hookId: $id) { webhookId } }"
    page = gql.data(default, {"id": hook_id})["inboundHookDeliveries"]
    assert [d["webhookId"] for d in page] == [f"msg_{n}" for n in range(100, 80, -1)]


def test_a_size_is_refused_even_when_the_id_names_nothing(gql):
    # Checked before the lookup: the same request is refused whoever's ID it carries.
    for document, message in [
        (
            "query($id: ID!) { webhookDeliveries(webhookId: $id, first: 101) { id } }",
            "Argument 'first' cannot be higher than 100.",
        ),
        (
            "query($id: ID!) { inboundHookDeliveries(hookId: $id, first: -5) { webhookId } }",
            "Argument 'first' must be a non-negative integer.",
        ),
    ]:
        body = gql(document, {"id": "garbage"})
        assert body["data"] is None
        assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
            (message, BAD_USER_INPUT)
        ]


def test_dependents_at_the_cap_answer_100_of_101(user, gql, task):
    waiting = Task.objects.bulk_create([Task(owner=user, title=f"W{n}") for n in range(101)])
    TaskDependency.objects.bulk_create([TaskDependency(task=w, pre_task=task) for w in waiting])
    document = SIZE_ARGUMENTS["Task", "dependents", "first"][0]
    read = gql.data(document, {"id": global_id("Task", task.pk), "n": 100})
    assert [d["id"] for d in read["task"]["dependents"]] == [
        global_id("Task", w.pk) for w in waiting[:100]
    ]


ORDERED = "query($o: [TaskOrder!]) { tasks(order: $o) { edges { node { title } } } }"


@pytest.mark.parametrize(
    "order,named",
    [
        ([{"field": "TITLE"}, {"field": "TITLE", "direction": "DESC"}], "TITLE"),
        ([{"field": "CREATED_AT"}, {"field": "TITLE"}, {"field": "CREATED_AT"}], "CREATED_AT"),
        ([{"field": "SCHEDULED_AT"}] * 500, "SCHEDULED_AT"),
    ],
    ids=["opposite-directions", "apart", "five-hundred"],
)
def test_an_order_naming_a_field_twice_is_refused_not_half_ignored(gql, task, order, named):
    body = gql(ORDERED, {"o": order})
    assert body["data"] is None
    assert [(e["message"], e["path"], e["extensions"]) for e in body["errors"]] == [
        (f"Argument 'order' cannot name {named} more than once.", ["tasks"], BAD_USER_INPUT)
    ]


def test_an_order_naming_each_field_once_sorts_by_all_three(user, gql):
    at = timezone.now() + timedelta(days=1)
    TaskFactory(owner=user, title="b", scheduled_at=at)
    TaskFactory(owner=user, title="a", scheduled_at=at)
    TaskFactory(owner=user, title="c", scheduled_at=None)
    order = [
        {"field": "SCHEDULED_AT"},
        {"field": "TITLE", "direction": "DESC"},
        {"field": "CREATED_AT"},
    ]
    edges = gql.data(ORDERED, {"o": order})["tasks"]["edges"]
    assert [e["node"]["title"] for e in edges] == ["b", "a", "c"]


@pytest.mark.parametrize("value", [2**31, 2**63, 2**70, -(2**31) - 1])
def test_a_size_beyond_32_bits_is_refused_by_the_int_scalar(gql, value):
    as_variable = gql("query($n: Int) { tasks(first: $n) { totalCount } }", {"n": value})
    assert [(e["message"], e["extensions"]) for e in as_variable["errors"]] == [
        (
            "Variable '$n' has invalid value: Int cannot represent non 32-bit signed integer "
            f"value: {value}",
            BAD_USER_INPUT,
        )
    ]
    as_literal = gql(f'{{ webhookDeliveries(webhookId: "x", first: {value}) {{ id }} }}')
    assert [(e["message"], e["extensions"]) for e in as_literal["errors"]] == [
        (
            f"Int cannot represent non 32-bit signed integer value: {value}",
            {"code": "GRAPHQL_VALIDATION_FAILED"},
        )
    ]
