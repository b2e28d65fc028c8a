"""GraphiQL at /graphql/ for browsers, on unless GRAPHQL_GRAPHIQL switches it off."""

import json
import re
from pathlib import Path

import pytest
from django.test import Client

BROWSER = {"Accept": "text/html"}


@pytest.mark.django_db
def test_graphiql_is_served_to_browsers():
    response = Client(headers=BROWSER).get("/graphql/")

    assert response.status_code == 200
    assert b"GraphiQL" in response.content


@pytest.mark.django_db
def test_graphiql_answers_not_found_when_switched_off(settings):
    settings.GRAPHQL_GRAPHIQL = False

    response = Client(headers=BROWSER).get("/graphql/")

    assert response.status_code == 404


@pytest.mark.django_db
def test_graphiql_loads_only_the_projects_own_files_with_the_csrf_cookie():
    response = Client(headers=BROWSER).get("/graphql/")

    html = response.content.decode()
    assert re.findall(r'(?:src|href)="([^"]+)"', html) == [
        "/static/graphiql/favicon.svg",
        "/static/graphiql/vendor/graphiql.min.css",
        "/static/graphiql/vendor/plugin-explorer.css",
        "/static/graphiql/graphiql-app.css",
        "/static/graphiql/vendor/react.production.min.js",
        "/static/graphiql/vendor/react-dom.production.min.js",
        "/static/graphiql/vendor/graphiql.min.js",
        "/static/graphiql/vendor/plugin-explorer.umd.js",
        "/static/graphiql/graphiql-app.js",
    ]
    assert "<script>" not in html  # the only inline block is JSON (type="application/json")
    assert response.cookies["csrftoken"].value
    assert response["Content-Security-Policy"].startswith("default-src 'self'; style-src 'self' ")


def _operation(text: str) -> str:
    """An operation without its name and whitespace, to compare spellings."""
    text = re.sub(r"^(mutation|query) \w+ ", "", text.strip())
    return re.sub(r"\s+", "", text)


@pytest.mark.django_db
def test_graphiqls_first_tabs_are_the_readmes_operations():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"```graphql\n(.*?)```", readme, re.S).group(1)
    operations = [line for line in block.splitlines() if line.strip()]
    response = Client(headers=BROWSER).get("/graphql/")
    config = re.search(
        r'<script id="graphiql-config" type="application/json">(.*?)</script>',
        response.content.decode(),
    ).group(1)
    tabs = json.loads(config)["defaultTabs"]

    assert [_operation(tab["query"]) for tab in tabs[:3]] == [
        _operation(operation.replace("mutation ", "mutation X ", 1)) for operation in operations
    ]
