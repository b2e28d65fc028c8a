"""Personal API tokens: created from a session, used as `Authorization: Bearer <secret>`."""

import hashlib
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tasks.models import Task
from tests.factories import PASSWORD, TaskFactory, UserFactory
from tests.graphql import GraphQLClient, global_id
from tests.security.tokens import bearer_client, token_for
from users.models import ApiToken

pytestmark = pytest.mark.django_db

CREATE = """
mutation Create($input: ApiTokenCreateInput!) {
  apiTokenCreate(input: $input) {
    secret
    apiToken { id name prefix scopes expiresAt lastUsedAt revokedAt }
    errors { field message code }
  }
}
"""
LIST = "{ apiTokens { name prefix scopes revokedAt } }"
REVOKE = """
mutation Revoke($id: ID!) {
  apiTokenRevoke(id: $id) { apiToken { name revokedAt } errors { field message code } }
}
"""
ME = "{ me { email } }"
TASK_CREATE = """
mutation { taskCreate(input: {title: "from a script"}) { task { title } errors { code } } }
"""


def test_create_returns_the_secret_once_and_stores_only_its_digest(user, gql):
    data = gql.data(CREATE, {"input": {"name": " CI deploy ", "scopes": ["READ"]}})
    payload = data["apiTokenCreate"]
    secret = payload["secret"]
    assert payload["errors"] == []
    assert secret.startswith("tg_") and len(secret) == 46
    assert payload["apiToken"]["name"] == "CI deploy"
    assert payload["apiToken"]["prefix"] == secret[:9]
    assert payload["apiToken"]["scopes"] == ["READ"]
    assert payload["apiToken"]["lastUsedAt"] is None
    stored = ApiToken.objects.get()
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.values().get())
    assert "secret" not in gql.data(LIST)["apiTokens"][0]


def test_write_scope_implies_read(gql):
    data = gql.data(CREATE, {"input": {"name": "bot", "scopes": ["WRITE"]}})
    assert data["apiTokenCreate"]["apiToken"]["scopes"] == ["READ", "WRITE"]


def test_create_reports_every_bad_field_and_writes_nothing(gql):
    data = gql.data(
        CREATE,
        {"input": {"name": "  ", "scopes": [], "expiresAt": "2020-01-01T00:00:00+00:00"}},
    )
    assert data["apiTokenCreate"] == {
        "secret": None,
        "apiToken": None,
        "errors": [
            {"field": "name", "message": "Give the token a name.", "code": "blank"},
            {"field": "scopes", "message": "Choose at least one scope.", "code": "required"},
            {
                "field": "expiresAt",
                "message": "The expiry must be in the future.",
                "code": "in_the_past",
            },
        ],
    }
    assert ApiToken.objects.count() == 0


def test_a_user_can_hold_at_most_fifty_live_tokens(user, gql):
    for n in range(50):
        token_for(user, name=f"t{n}")
    data = gql.data(CREATE, {"input": {"name": "one more", "scopes": ["READ"]}})
    assert data["apiTokenCreate"]["errors"] == [
        {
            "field": None,
            "message": "You have 50 active API tokens: revoke one first.",
            "code": "too_many_tokens",
        }
    ]


def test_list_shows_only_my_tokens_newest_first(user, other_user, gql):
    token_for(user, "READ", name="old")
    token_for(user, "READ", name="new")
    token_for(other_user, name="not mine")
    assert [t["name"] for t in gql.data(LIST)["apiTokens"]] == ["new", "old"]


def test_anonymous_callers_cannot_list_or_create_tokens(anon):
    body = anon(LIST)
    assert body["errors"][0]["message"] == "Authentication required: log in first."
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    body = anon(CREATE, {"input": {"name": "x", "scopes": ["READ"]}})
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert ApiToken.objects.count() == 0


def test_a_bearer_token_authenticates_without_session_or_csrf(user):
    _, secret = token_for(user)
    client = bearer_client(secret, enforce_csrf_checks=True)
    assert client.data(ME) == {"me": {"email": "alice@example.com"}}
    assert client.data(TASK_CREATE)["taskCreate"] == {
        "task": {"title": "from a script"},
        "errors": [],
    }
    assert Task.objects.get().owner == user
    response = client.post(ME)
    assert "sessionid" not in response.cookies


def test_a_read_token_cannot_run_mutations(user):
    _, secret = token_for(user, "READ")
    client = bearer_client(secret)
    assert client.data(ME) == {"me": {"email": "alice@example.com"}}
    body = client(TASK_CREATE)
    assert body == {
        "data": None,
        "errors": [
            {
                "message": "This API token is read-only: mutations need the WRITE scope.",
                "extensions": {"code": "FORBIDDEN"},
            }
        ],
    }
    assert Task.objects.count() == 0


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda t: setattr(t, "revoked_at", timezone.now()), "This API token has been revoked."),
        (
            lambda t: setattr(t, "expires_at", timezone.now() - timedelta(seconds=1)),
            "This API token has expired.",
        ),
        (lambda t: setattr(t.user, "is_active", False), "Invalid API token."),
    ],
    ids=["revoked", "expired", "inactive-user"],
)
def test_a_dead_token_gets_401_with_a_clear_message(user, make, message):
    token, secret = token_for(user)
    make(token)
    token.save()
    token.user.save()
    response = bearer_client(secret).post(ME)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.json() == {
        "data": None,
        "errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}],
    }


@pytest.mark.parametrize("header", ["Bearer tg_wrong", "Bearer ", "bearer not-even-ours"])
def test_an_unknown_token_gets_401_and_never_falls_back_to_the_session(user, header):
    client = Client(headers={"Authorization": header})
    client.force_login(user)
    response = GraphQLClient(client).post(ME)
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "Invalid API token."


def test_a_bearer_token_wins_over_a_session_cookie(user, other_user):
    _, secret = token_for(other_user)
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    client.force_login(user)
    assert GraphQLClient(client).data(ME) == {"me": {"email": "mallory@example.com"}}


def test_last_used_at_is_written_at_most_once_a_minute(user, django_assert_num_queries):
    _, secret = token_for(user, "READ")
    client = bearer_client(secret)
    with django_assert_num_queries(2):  # token+user, then UPDATE last_used_at
        client.data(ME)
    first_use = ApiToken.objects.get().last_used_at
    assert first_use is not None
    with django_assert_num_queries(1):
        client.data(ME)
    assert ApiToken.objects.get().last_used_at == first_use
    ApiToken.objects.update(last_used_at=first_use - timedelta(seconds=61))
    client.data(ME)
    assert ApiToken.objects.get().last_used_at > first_use


def test_revoke_stops_the_token_at_once(user, gql):
    # Given a token that works
    token, secret = token_for(user)
    assert bearer_client(secret).data(ME)["me"] is not None

    # When its owner revokes it
    revoked = gql.data(REVOKE, {"id": global_id("ApiToken", token.pk)})["apiTokenRevoke"]

    # Then the next request with it is refused
    assert revoked["errors"] == []
    assert revoked["apiToken"]["revokedAt"] is not None
    assert bearer_client(secret).post(ME).status_code == 401


def test_revoking_twice_keeps_the_first_revocation_time(user, gql):
    token, _ = token_for(user)
    first = gql.data(REVOKE, {"id": global_id("ApiToken", token.pk)})["apiTokenRevoke"]

    again = gql.data(REVOKE, {"id": global_id("ApiToken", token.pk)})["apiTokenRevoke"]

    assert again == first


def test_a_write_token_may_revoke_itself(user):
    token, secret = token_for(user)
    client = bearer_client(secret)
    data = client.data(REVOKE, {"id": global_id("ApiToken", token.pk)})
    assert data["apiTokenRevoke"]["errors"] == []
    assert client.post(ME).status_code == 401


@pytest.mark.parametrize(
    "document,variables,action",
    [
        (CREATE, {"input": {"name": "x", "scopes": ["WRITE"]}}, "create API tokens"),
        (
            "mutation($o: String!, $n: String!) { passwordChange(oldPassword: $o, newPassword: $n)"
            " { errors { code } } }",
            {"o": PASSWORD, "n": "another long passphrase"},
            "change the password",
        ),
        (
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { errors { code } } }",
            {"e": "alice@example.com", "p": PASSWORD},
            "log in",
        ),
        ("mutation { logout { ok } }", {}, "log out"),
        (
            'mutation { register(input: {email: "x@example.com", password: "long passphrase"}) '
            "{ errors { code } } }",
            {},
            "register accounts",
        ),
    ],
    ids=["apiTokenCreate", "passwordChange", "login", "logout", "register"],
)
def test_account_level_mutations_need_a_session_not_a_token(user, document, variables, action):
    _, secret = token_for(user)
    body = bearer_client(secret)(document, variables)
    assert body["errors"][0]["message"] == (
        f"API tokens cannot {action}: log in with a browser session."
    )
    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    assert ApiToken.objects.count() == 1
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_cookie_session_post_without_csrf_token_is_refused(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = GraphQLClient(client).post(TASK_CREATE)
    assert response.status_code == 403
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": "CSRF verification failed: CSRF cookie not set. Send the X-CSRFToken "
                "header (see /csrf/), or authenticate with an API token.",
                "extensions": {"code": "CSRF_FAILED"},
            }
        ],
    }
    assert Task.objects.count() == 0


def test_a_cookie_session_post_with_the_csrf_token_goes_through(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    csrf_token = client.get("/csrf/").json()["csrfToken"]
    response = GraphQLClient(client).post(TASK_CREATE, **{"X-CSRFToken": csrf_token})
    assert response.status_code == 200
    assert response.json()["data"]["taskCreate"]["errors"] == []


def test_another_users_token_cannot_be_revoked_and_looks_missing(user, gql):
    victim_token, _ = token_for(UserFactory(), name="victim")
    data = gql.data(REVOKE, {"id": global_id("ApiToken", victim_token.pk)})
    assert data["apiTokenRevoke"] == {
        "apiToken": None,
        "errors": [{"field": "id", "message": "API token not found.", "code": "not_found"}],
    }
    victim_token.refresh_from_db()
    assert victim_token.revoked_at is None


def test_tokens_list_runs_one_query(user, gql, django_assert_num_queries):
    for n in range(5):
        token_for(user, name=f"t{n}")
    TaskFactory(owner=user)
    with django_assert_num_queries(3):  # session, user, tokens
        assert len(gql.data(LIST)["apiTokens"]) == 5


def test_mutations_cannot_ride_on_get_requests_where_csrf_does_not_look(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.get("/graphql/", {"query": TASK_CREATE})
    assert response.status_code == 400
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": "mutations are not allowed when using GET",
                "extensions": {"code": "BAD_REQUEST"},
            }
        ],
    }
    assert Task.objects.count() == 0
