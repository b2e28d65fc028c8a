"""Helpers for tests that call the API with a bearer token."""

from django.test import Client

from tests.graphql import GraphQLClient
from users import services


def bearer_client(secret: str, **client_kwargs) -> GraphQLClient:
    return GraphQLClient(Client(headers={"Authorization": f"Bearer {secret}"}, **client_kwargs))


def token_for(user, *scopes: str, **kwargs):
    """(token, secret) for this user; WRITE scope unless told otherwise."""
    return services.api_token_create(
        user=user, name=kwargs.pop("name", "script"), scopes=scopes or ("WRITE",), **kwargs
    )
