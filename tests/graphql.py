"""A small GraphQL client over Django's test client: real HTTP request handling, no mocks.

Every answer it receives has each of its global IDs decoded: an `id` (or `deletedId`) must name
a Node type of the schema and a numeric key, whichever root field returned it.
"""

import base64
import binascii
import json
from functools import cache
from typing import Any

from django.test import Client


def global_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


class GraphQLClient:
    def __init__(self, client: Client | None = None) -> None:
        self.client = client or Client()

    def post(self, query: str, variables: dict[str, Any] | None = None, **headers: str):
        response = self.client.post(
            "/graphql/",
            data=json.dumps({"query": query, "variables": variables or {}}),
            content_type="application/json",
            headers=headers,
        )
        if response.headers.get("Content-Type", "").startswith("application/json"):
            assert_ids_name_node_types(response.json())
        return response

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


ID_KEYS = ("id", "deletedId")


@cache
def node_type_names() -> frozenset[str]:
    from schema.schema import schema

    node = schema._schema.get_type("Node")
    return frozenset(t.name for t in schema._schema.get_possible_types(node))


def assert_ids_name_node_types(value: Any) -> None:
    """Every global ID in a response decodes to `<Node type>:<digits>`; with __typename beside
    it, to that very type."""
    if isinstance(value, list):
        for item in value:
            assert_ids_name_node_types(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in ID_KEYS and isinstance(item, str):
                try:
                    type_name, _, pk = base64.b64decode(item, validate=True).decode().partition(":")
                except (binascii.Error, UnicodeDecodeError):
                    raise AssertionError(f"{key} {item!r} is not a global ID") from None
                assert type_name in node_type_names() and pk.isdigit(), (
                    f"{key} {item!r} decodes to {type_name}:{pk}"
                )
                if "__typename" in value:
                    assert type_name == value["__typename"], (item, value["__typename"])
            else:
                assert_ids_name_node_types(item)
