"""A hook's variables map fits its document when saved: it names only variables the document
declares (`undeclared_variable`) and every one the document requires, non-null without a
default (`missing_variable`); an update checks the pair it leaves, and writes nothing when
refused. An empty map (the body's top-level keys) is not checked."""

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction

from schema.hooks import document_check
from schema.schema import schema
from tasks.models import Task
from tests.conftest import skip_or_fail
from tests.webhooks.test_inbound import CREATE_TASK, HOOK_CREATE, make_hook, path, send
from webhooks import hooks
from webhooks.models import InboundHook

pytestmark = pytest.mark.django_db

HOOK_UPDATE = """
mutation($id: ID!, $input: InboundHookUpdateInput!) {
  inboundHookUpdate(id: $id, input: $input) {
    inboundHook { name document variables }
    errors { field message code }
  }
}"""

# $title is required; $description is not (nullable).
TWO_REQUIRED = (
    "mutation($title: String!, $description: String!) {"
    " taskCreate(input: {title: $title, description: $description})"
    " { task { title description } errors { field code } } }"
)
# Non-null with a default: a request may leave it out.
DEFAULTED = (
    'mutation($title: String! = "Untitled", $description: String) {'
    " taskCreate(input: {title: $title, description: $description})"
    " { task { title description } errors { field code } } }"
)
RENAMED = (
    "mutation($name: String!) { taskCreate(input: {title: $name})"
    " { task { title description } errors { field code } } }"
)
NO_VARIABLES = 'mutation { taskCreate(input: {title: "Fixed"}) { task { title } } }'


def undeclared(names: str) -> dict:
    return {
        "field": "variables",
        "message": f"The document declares no {names}: map only the variables it declares.",
        "code": "undeclared_variable",
    }


def missing(names: str) -> dict:
    return {
        "field": "variables",
        "message": (
            f"The document requires {names} (non-null, no default): map each to a JSON pointer,"
            " or leave the map empty to use the body's top-level keys."
        ),
        "code": "missing_variable",
    }


def create(gql, document: str, variables) -> dict:
    return gql.data(
        HOOK_CREATE, {"input": {"name": "CI", "document": document, "variables": variables}}
    )["inboundHookCreate"]


def update(gql, hook: dict, **changes) -> dict:
    return gql.data(HOOK_UPDATE, {"id": hook["inboundHook"]["id"], "input": changes})[
        "inboundHookUpdate"
    ]


def stored() -> tuple[str, str, dict]:
    hook = InboundHook.objects.get()
    return hook.name, hook.document, hook.variables


# Create


@pytest.mark.parametrize(
    ("document", "variables", "errors"),
    [
        (CREATE_TASK, {"title": "/t", "labels": "/l"}, [undeclared("$labels")]),
        (NO_VARIABLES, {"title": "/t"}, [undeclared("$title")]),
        (CREATE_TASK, {"description": "/d"}, [missing("$title")]),
        (
            TWO_REQUIRED,
            {"x": "/x", "y": "/y"},
            [undeclared("$x, $y"), missing("$title, $description")],
        ),
        (TWO_REQUIRED, {"description": "/d"}, [missing("$title")]),
    ],
)
def test_a_map_that_does_not_fit_the_document_is_refused_on_create(
    gql, document, variables, errors
):
    assert create(gql, document, variables) == {
        "inboundHook": None,
        "secret": None,
        "errors": errors,
    }
    assert not InboundHook.objects.exists()


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        (CREATE_TASK, {"title": "/t"}),  # $description is nullable
        (CREATE_TASK, {"title": "/t", "description": "/d"}),
        (DEFAULTED, {"description": "/d"}),  # $title has a default
        (DEFAULTED, {}),
        (CREATE_TASK, {}),  # the body's top-level keys: nothing to check
        (CREATE_TASK, None),
        (NO_VARIABLES, {}),
    ],
)
def test_a_map_that_fits_or_an_empty_one_is_accepted_on_create(gql, document, variables):
    hook = create(gql, document, variables)
    assert hook["errors"] == []
    assert hook["inboundHook"]["variables"] == (variables or {})
    assert stored() == ("CI", document, variables or {})


def test_the_document_is_refused_before_its_variables_are_checked(gql):
    data = create(gql, "mutation($x: String!) { nope }", {"y": "/y"})
    assert data["errors"] == [
        {
            "field": "document",
            "message": "Variable '$x' is never used. Cannot query field 'nope' on type 'Mutation'.",
            "code": "invalid_document",
        }
    ]
    assert not InboundHook.objects.exists()


# Update


def test_a_new_document_is_checked_against_the_stored_map(gql):
    hook = make_hook(gql, variables={"title": "/t"})

    data = update(gql, hook, document=RENAMED)

    assert data == {"inboundHook": None, "errors": [undeclared("$title"), missing("$name")]}
    assert stored() == ("CI", CREATE_TASK, {"title": "/t"})


def test_a_new_map_is_checked_against_the_stored_document(gql):
    hook = make_hook(gql, variables={"title": "/t"})

    assert update(gql, hook, variables={"description": "/d"}) == {
        "inboundHook": None,
        "errors": [missing("$title")],
    }
    assert update(gql, hook, variables={"title": "/t", "extra": "/e", "more": "/m"}) == {
        "inboundHook": None,
        "errors": [undeclared("$extra, $more")],
    }
    assert stored() == ("CI", CREATE_TASK, {"title": "/t"})


def test_a_refused_map_leaves_the_other_changes_unwritten(gql):
    hook = make_hook(gql, variables={"title": "/t"})

    data = update(gql, hook, name="Renamed", enabled=False, variables={"nope": "/n"})

    assert data["errors"] == [undeclared("$nope"), missing("$title")]
    assert stored() == ("CI", CREATE_TASK, {"title": "/t"})
    assert InboundHook.objects.get().enabled is True


def test_a_document_and_map_changed_together_are_checked_together(gql):
    hook = make_hook(gql, variables={"title": "/t"})

    data = update(gql, hook, document=RENAMED, variables={"name": "/pr/title"})

    assert data == {
        "inboundHook": {"name": "CI", "document": RENAMED, "variables": {"name": "/pr/title"}},
        "errors": [],
    }
    response = send(path(hook), hook["secret"], {"pr": {"title": "Renamed hook"}})
    assert response.status_code == 200
    assert response.json()["data"]["taskCreate"]["task"] == {
        "title": "Renamed hook",
        "description": "",
    }


@pytest.mark.parametrize("variables", [{}, None])
def test_emptying_the_map_or_changing_the_document_under_an_empty_map_is_accepted(gql, variables):
    hook = make_hook(gql, variables={"title": "/t"})

    assert update(gql, hook, variables=variables)["errors"] == []
    assert update(gql, hook, document=RENAMED)["errors"] == []

    assert stored() == ("CI", RENAMED, {})


def test_an_update_that_leaves_document_and_map_alone_does_not_check_them(gql):
    hook = make_hook(gql, variables={"title": "/t"})
    # As if the schema changed under the stored document: it would no longer pass.
    InboundHook.objects.update(variables={"gone": "/g"})

    data = update(gql, hook, name="Renamed", enabled=False)

    assert data == {
        "inboundHook": {"name": "Renamed", "document": CREATE_TASK, "variables": {"gone": "/g"}},
        "errors": [],
    }


# End to end


def test_a_hook_with_a_fitting_map_runs_and_a_defaulted_variable_may_be_absent(gql):
    hook = make_hook(gql, document=DEFAULTED, variables={"description": "/issue/body"})

    response = send(path(hook), hook["secret"], {"issue": {"body": "From the tracker"}})

    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "taskCreate": {
                "task": {"title": "Untitled", "description": "From the tracker"},
                "errors": [],
            }
        }
    }
    assert list(Task.objects.values_list("title", "description")) == [
        ("Untitled", "From the tracker")
    ]


# Two updates at once, on PostgreSQL: each checks the pair the other left.


def check(document: str) -> hooks.CheckedDocument:
    return document_check(schema, document)


@pytest.mark.django_db(transaction=True)
@pytest.mark.services
def test_a_document_and_a_map_updated_at_once_cannot_leave_a_pair_that_does_not_fit(user):
    if connection.vendor != "postgresql":
        skip_or_fail("PostgreSQL is not configured: set DATABASE_URL=postgres://...")
    # Each change alone fits: RENAMED under the empty map, {"title"} under CREATE_TASK.
    hook = hooks.inbound_hook_create(
        user=user, name="CI", document=CREATE_TASK, variables={}, check=check
    )
    document_changed, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def change_document() -> None:
        try:
            with transaction.atomic():
                hooks.inbound_hook_update(user=user, pk=hook.pk, document=RENAMED, check=check)
                document_changed.set()
                assert release.wait(10)
        finally:
            connections.close_all()

    def change_map() -> None:
        try:
            hooks.inbound_hook_update(user=user, pk=hook.pk, variables={"title": "/t"}, check=check)
            outcome["map"] = "written"
        except ValidationError as exc:
            outcome["map"] = exc.message_dict
        finally:
            connections.close_all()

    first = threading.Thread(target=change_document)
    first.start()
    assert document_changed.wait(10)
    second = threading.Thread(target=change_map)
    second.start()
    waiting_for_a_lock(timeout=10)
    release.set()
    first.join(10)
    second.join(10)

    assert outcome == {
        "map": {
            "variables": [
                undeclared("$title")["message"],
                missing("$name")["message"],
            ]
        }
    }
    assert stored() == ("CI", RENAMED, {})


def waiting_for_a_lock(*, timeout: float) -> None:
    """Until another connection to this database waits for a lock (the second update)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the second update never waited for the first")
