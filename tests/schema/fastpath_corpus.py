"""A corpus of the suite's GraphQL documents, run in a fresh process, answers printed as JSON.

tests/schema/test_fastpath.py runs this twice, with GRAPHQL_FAST_PATH on and off (the fast
path is chosen when the schema is built, so each setting needs its own process), on a fresh
SQLite file each, and requires identical output. The documents come from the test modules
(lists, nested lists, single nodes, every mutation with good and refused input) plus shapes
the fast path treats specially: bad IDs, invalid enum values, aliases and repeated fields,
nulls, fragments, errors inside lists.

    python tests/schema/fastpath_corpus.py   # needs DATABASE_URL of an empty database
"""

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")

# Values that differ from run to run by nature, not by execution path.
VOLATILE_KEYS = {
    "createdAt",
    "updatedAt",
    "completedAt",
    "lastUsedAt",
    "revokedAt",
    "secret",
    "prefix",
    # extensions.cost.minute: the caller's budget left this minute, and when it resets.
    "remaining",
    "resetsIn",
    # Keyset cursors hold the row's sort values: createdAt by default.
    "cursor",
    "startCursor",
    "endCursor",
}
T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


def _normalized(value):
    if isinstance(value, dict):
        return {
            key: "<volatile>" if key in VOLATILE_KEYS and item is not None else _normalized(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_normalized(item) for item in value]
    return value


def _seed():
    from datetime import timedelta

    from tasks.models import Reminder
    from tests.factories import DoneTaskFactory, TaskDependencyFactory, TaskFactory, UserFactory
    from tests.security.tokens import token_for

    user = UserFactory(email="alice@example.com", timezone="Europe/Paris")
    other = UserFactory(email="mallory@example.com")
    water = TaskFactory(owner=user, title="Water plants", scheduled_at=T0 + timedelta(days=2))
    milk = TaskFactory(owner=user, title="buy milk", scheduled_at=T0, description="2 l")
    TaskDependencyFactory(task=water, pre_task=milk)
    taxes = DoneTaskFactory(owner=user, title="File taxes", scheduled_at=T0 + timedelta(days=3))
    TaskDependencyFactory(task=taxes, pre_task=water)
    TaskFactory(owner=user, title="Call mum")
    foreign = TaskFactory(owner=other, title="Someone else's milk")
    reminder = Reminder.objects.create(task=water, remind_at=T0, due_at=T0)
    token, _ = token_for(user, name="script")
    return user, {"water": water, "milk": milk, "taxes": taxes, "foreign": foreign}, reminder, token


def _documents(tasks, reminder, token):
    from tests.graphql import global_id
    from tests.security import test_api_tokens as tokens
    from tests.security import test_authorization_matrix as matrix
    from tests.tasks import test_graph_edits as edits
    from tests.tasks import test_graph_reads as reads
    from tests.tasks import test_task_api as api
    from tests.tasks import test_task_list as lists
    from tests.users import test_accounts as accounts

    def tid(name):
        return global_id("Task", tasks[name].pk)

    water, milk, taxes, foreign = tid("water"), tid("milk"), tid("taxes"), tid("foreign")
    bad_ids = ["", "not base64!", global_id("User", 1), global_id("Task", "abc")]
    docs = [
        (lists.LIST, {}),
        (lists.LIST, {"first": 2}),
        (lists.LIST, {"first": 1, "after": "bogus"}),
        (lists.LIST, {"first": 101}),
        (lists.LIST, {"order": [{"field": "TITLE", "direction": "DESC"}]}),
        (lists.LIST, {"filter": {"status": "DONE"}}),
        (lists.LIST, {"filter": {"status": "LOST"}}),
        (lists.LIST, {"order": [{"field": "COLOUR"}]}),
        (lists.NESTED, {"first": 10}),
        (reads.LIST, {"filter": {"ready": True}}),
        (reads.NESTED, {}),
        (reads.TASK, {"id": water, "transitive": True}),
        (reads.TASK, {"id": taxes, "maxDepth": 1}),
        ("{ tasks { edges { node { id id title t: title status s: status } } } }", {}),
        ("{ tasks(filter: {status: LOST}) { totalCount } }", {}),
        ('{ tasks(order: [{field: TITLE, direction: "DESC"}]) { totalCount } }', {}),
        (
            "query { tasks { edges { node { ...T preTasks { ...T } } } } } "
            "fragment T on Task { id title status scheduledAt description completedAt }",
            {},
        ),
        ("{ me { id email firstName lastName timezone } }", {}),
        ("{ apiTokens { id name scopes expiresAt revokedAt } }", {}),
        ("{ taskOrder { id title status } }", {}),
        ("query($id: ID) { taskOrder(rootId: $id) { title } }", {"id": taxes}),
        ("query($id: ID) { taskOrder(rootId: $id) { title } }", {"id": foreign}),
        ("{ tasks { edges { node { reminders { id remindAt state attempts } } } } }", {}),
        ("{ tasks { edges { node { title nope } } } }", {}),
        ("{ tasks { edges { node { status(x: 1) } } } }", {}),
        (api.UPDATE, {"id": milk, "input": {"title": "  ", "description": None}}),
        (api.UPDATE, {"id": milk, "input": {"scheduledAt": "2030-01-01T09:00:00"}}),
        (api.UPDATE, {"id": milk, "input": {"title": "Buy oat milk", "scheduledAt": None}}),
        (edits.ADD, {"taskId": milk, "preTaskIds": [taxes]}),
        (edits.ADD, {"taskId": milk, "preTaskIds": [foreign]}),
        (edits.REMOVE, {"taskId": water, "preTaskIds": [milk]}),
        (edits.COMPLETE, {"id": taxes}),
        (api.COMPLETE, {"id": water}),
        (api.REOPEN, {"id": taxes}),
        (accounts.USER_UPDATE, {"input": {"timezone": "Mars/Olympus"}}),
        (accounts.USER_UPDATE, {"input": {"firstName": None}}),
        (accounts.PASSWORD_CHANGE, {"old": "wrong", "new": "x"}),
        (tokens.CREATE, {"input": {"name": "", "scopes": []}}),
        (tokens.CREATE, {"input": {"name": "ci", "scopes": ["READ", "ROOT"]}}),
        (tokens.REVOKE, {"id": global_id("ApiToken", token.pk)}),
    ]
    for bad in bad_ids:
        docs += [
            (reads.TASK, {"id": bad}),
            (api.UPDATE, {"id": bad, "input": {"title": "x"}}),
            (edits.ADD, {"taskId": water, "preTaskIds": [bad]}),
        ]
    targets = {
        "task": water,
        "done_task": taxes,
        "api_token": global_id("ApiToken", token.pk),
        "reminder": global_id("Reminder", reminder.pk),
        "user": global_id("User", token.user_id),
        # Missing ones: a rotated secret is random, so the two paths could not agree on it.
        "webhook": global_id("WebhookEndpoint", 987_654_321),
        "webhook_delivery": global_id("WebhookDelivery", 987_654_321),
        "inbound_hook": global_id("InboundHook", "00000000-0000-0000-0000-000000000000"),
    }
    for operation in matrix.OPERATIONS:
        docs.append((operation.document, operation.variables(targets[operation.target])))
        docs.append((operation.document, operation.variables(foreign)))
    return docs


def main() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from schema import fastpath
    from tasks.models import Task
    from tests.graphql import GraphQLClient

    setup_test_environment()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("migrate", verbosity=0)
    user, tasks, reminder, token = _seed()
    client = Client()
    client.force_login(user)
    gql, anon = GraphQLClient(client), GraphQLClient(Client())
    answers = []
    for document, variables in _documents(tasks, reminder, token):
        for caller in (gql, anon):
            response = caller.post(document, variables)
            answers.append([document, variables, response.status_code, response.json()])
    # A value the enum type refuses (a row written behind the model's back, as an old
    # deployment or a manual fix could): the error must name the same path both ways.
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA ignore_check_constraints = 1")
        cursor.execute(f"UPDATE {Task._meta.db_table} SET status = 'LOST' WHERE title = 'Call mum'")
        cursor.execute("PRAGMA ignore_check_constraints = 0")
    for document in (
        "{ tasks { edges { node { id title status } } } }",
        "{ tasks { edges { node { title preTasks { status } dependents { title status } } } } }",
        "{ taskOrder { title status } }",
    ):
        answers.append([document, gql(document)])
    print(json.dumps({"fast_path": fastpath.ENABLED, "answers": _normalized(answers)}))


if __name__ == "__main__":
    main()
