"""A small GraphQL client over Django's test client: real HTTP request handling, no mocks."""

import base64
import json
from typing import Any

from django.test import Client


def global_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


class GraphQLClient:
    def __init__(self, client: Client | None = None) -> None:
        self.client = client or Client()

    def post(self, query: str, variables: dict[str, Any] | None = None, **headers: str):
        return self.client.post(
            "/graphql/",
            data=json.dumps({"query": query, "variables": variables or {}}),
            content_type="application/json",
            headers=headers,
        )

    def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The full response body; the HTTP status must be 200."""
        response = self.post(query, variables)
        assert response.status_code == 200, response.content
        return response.json()

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of a response that must carry no GraphQL errors."""
        body = self(query, variables)
        assert "errors" not in body, body["errors"]
        return body["data"]
