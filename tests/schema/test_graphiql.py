"""GraphiQL at /graphql/ for browsers, on unless GRAPHQL_GRAPHIQL switches it off."""

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
