"""The link in a reminder email leads somewhere: the front end's task page when
REMINDER_TASK_URL is set, GraphiQL with the task's query filled in otherwise."""

import json
import re
from urllib.parse import unquote, urlsplit

import pytest

from jobs import links
from tests.factories import TaskFactory
from tests.graphql import global_id

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _not_serving(monkeypatch):
    monkeypatch.setattr(links, "_served_at", None)


def test_the_link_follows_the_reminder_task_url_template(settings):
    settings.REMINDER_TASK_URL = "https://app.example.com/tasks/{id}?from=email"

    assert links.task_url(TaskFactory.build(pk=1000)) == (
        "https://app.example.com/tasks/VGFzazoxMDAw?from=email"
    )
    # A global ID's '=', '+' and '/' are escaped: it stays one path segment.
    assert links.task_url(TaskFactory.build(pk=12)) == (
        "https://app.example.com/tasks/VGFzazoxMg%3D%3D?from=email"
    )


def test_without_a_template_the_link_opens_graphiql_with_the_task_query(settings, user, gql):
    settings.REMINDER_TASK_URL = ""
    settings.API_URL = "http://127.0.0.1:8000"
    task = TaskFactory(owner=user, title="Paint the fence")

    url = urlsplit(links.task_url(task))
    params = {key: unquote(value) for key, value in (p.split("=", 1) for p in url.query.split("&"))}

    assert (url.scheme, url.netloc, url.path) == ("http", "127.0.0.1:8000", "/graphql/")
    assert "+" not in url.query  # spaces as %20: decodeURIComponent leaves "+" as is
    assert params == {
        "q": links.TASK_QUERY,
        "variables": json.dumps({"id": global_id("Task", task.pk)}),
    }
    # The query is valid and shows the task to its owner.
    data = gql.data(params["q"], json.loads(params["variables"]))
    assert data["task"]["title"] == "Paint the fence"
    # And the page it opens is GraphiQL with that operation in its editor.
    page = gql.client.get(f"{url.path}?{url.query}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    config = json.loads(re.search(r'id="graphiql-config"[^>]*>(.*?)</script>', page.text).group(1))
    assert (config["query"], config["variables"]) == (params["q"], params["variables"])


def test_graphiql_without_a_linked_operation_keeps_the_users_editor(gql):
    page = gql.client.get("/graphql/", headers={"Accept": "text/html"})
    config = json.loads(re.search(r'id="graphiql-config"[^>]*>(.*?)</script>', page.text).group(1))
    assert (config["query"], config["variables"]) == (None, None)


@pytest.mark.parametrize(
    ("addr", "ipv6", "base"),
    [
        ("127.0.0.1", False, "http://127.0.0.1:8123"),
        ("0.0.0.0", False, "http://127.0.0.1:8123"),
        ("0", False, "http://127.0.0.1:8123"),
        ("::", True, "http://[::1]:8123"),
        ("example.test", False, "http://example.test:8123"),
    ],
)
def test_runserver_points_the_links_at_the_address_it_serves(settings, addr, ipv6, base):
    settings.REMINDER_TASK_URL = ""
    links.serving_at(addr=addr, port="8123", ipv6=ipv6)

    assert links.task_url(TaskFactory.build(pk=1)).startswith(f"{base}/graphql/?q=query%20Task")
