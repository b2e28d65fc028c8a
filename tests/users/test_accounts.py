import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.factories import PASSWORD, UserFactory
from tests.graphql import GraphQLClient

User = get_user_model()

REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) { user { id email timezone } errors { field message code } }
}
"""
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { user { email } errors { field message code } }
}
"""
ME = "{ me { email timezone firstName lastName } }"
USER_UPDATE = """
mutation Update($input: UserUpdateInput!) {
  userUpdate(input: $input) { user { timezone firstName lastName } errors { field message code } }
}
"""
PASSWORD_CHANGE = """
mutation Change($old: String!, $new: String!) {
  passwordChange(oldPassword: $old, newPassword: $new) { user { email } errors { field code } }
}
"""

pytestmark = pytest.mark.django_db


def test_register_creates_the_account_and_logs_in(anon):
    data = anon.data(
        REGISTER,
        {"input": {"email": " Bob@Example.COM ", "password": PASSWORD, "timezone": "Asia/Tokyo"}},
    )
    assert data["register"]["errors"] == []
    assert data["register"]["user"]["email"] == "bob@example.com"
    assert data["register"]["user"]["timezone"] == "Asia/Tokyo"
    assert anon.data(ME)["me"]["email"] == "bob@example.com"
    assert User.objects.get().check_password(PASSWORD)


def test_register_defaults_the_timezone_to_utc(anon):
    data = anon.data(REGISTER, {"input": {"email": "bob@example.com", "password": PASSWORD}})
    assert data["register"]["user"]["timezone"] == "UTC"


def test_register_reports_every_bad_field_and_writes_nothing(anon):
    data = anon.data(
        REGISTER, {"input": {"email": "not-an-email", "password": "123", "timezone": "Mars/Base"}}
    )
    assert data["register"]["user"] is None
    errors = {(e["field"], e["code"]) for e in data["register"]["errors"]}
    assert ("email", "invalid") in errors
    assert ("timezone", "invalid_timezone") in errors
    assert ("password", "password_too_short") in errors
    assert ("password", "password_entirely_numeric") in errors
    assert User.objects.count() == 0
    assert anon.data(ME)["me"] is None


def test_register_refuses_an_email_already_taken_in_any_case(anon):
    UserFactory(email="bob@example.com")
    data = anon.data(REGISTER, {"input": {"email": "BOB@example.com", "password": PASSWORD}})
    assert data["register"]["errors"] == [
        {
            "field": "email",
            "message": "An account with this email already exists.",
            "code": "unique",
        }
    ]
    assert User.objects.count() == 1


def test_register_timezone_error_message_names_the_value(anon):
    data = anon.data(
        REGISTER, {"input": {"email": "b@example.com", "password": PASSWORD, "timezone": "Nowhere"}}
    )
    assert data["register"]["errors"] == [
        {
            "field": "timezone",
            "message": "Nowhere is not an IANA time zone name (e.g. Europe/Paris).",
            "code": "invalid_timezone",
        }
    ]


def test_register_refuses_a_blank_timezone_by_saying_so(anon):
    data = anon.data(
        REGISTER, {"input": {"email": "b@example.com", "password": PASSWORD, "timezone": ""}}
    )
    assert data["register"]["errors"] == [
        {"field": "timezone", "message": "This field cannot be blank.", "code": "blank"}
    ]


def test_register_refuses_an_address_longer_than_the_column(anon):
    # Valid for Django's validate_email (up to 320), too long for the column (254): this was a
    # DataError on PostgreSQL, answered as an internal error.
    email = "a" * 64 + "@" + ("b" * 60 + ".") * 4 + "com"
    data = anon.data(REGISTER, {"input": {"email": email, "password": PASSWORD}})
    assert data["register"] == {
        "user": None,
        "errors": [
            {
                "field": "email",
                "message": "Ensure this value has at most 254 characters (it has 312).",
                "code": "max_length",
            }
        ],
    }
    assert User.objects.count() == 0


def test_login_with_email_in_any_case_starts_a_session(user, anon):
    data = anon.data(LOGIN, {"email": "ALICE@example.com", "password": PASSWORD})
    assert data["login"] == {"user": {"email": "alice@example.com"}, "errors": []}
    assert anon.data(ME)["me"]["email"] == "alice@example.com"


@pytest.mark.parametrize(
    "email,password",
    [("alice@example.com", "wrong password"), ("nobody@example.com", PASSWORD)],
)
def test_login_with_bad_credentials_gives_one_vague_error(user, anon, email, password):
    data = anon.data(LOGIN, {"email": email, "password": password})
    assert data["login"] == {
        "user": None,
        "errors": [
            {"field": None, "message": "Invalid email or password.", "code": "invalid_credentials"}
        ],
    }
    assert anon.data(ME)["me"] is None


def test_logout_ends_the_session(gql):
    assert gql.data(ME)["me"]["email"] == "alice@example.com"
    assert gql.data("mutation { logout { ok errors { code } } }")["logout"] == {
        "ok": True,
        "errors": [],
    }
    assert gql.data(ME)["me"] is None


def test_me_is_null_for_anonymous_callers(anon):
    assert anon.data(ME) == {"me": None}


def test_user_update_changes_only_the_given_fields(user, gql):
    data = gql.data(
        USER_UPDATE, {"input": {"firstName": " Alice ", "timezone": "America/New_York"}}
    )
    assert data["userUpdate"] == {
        "user": {"timezone": "America/New_York", "firstName": "Alice", "lastName": ""},
        "errors": [],
    }
    user.refresh_from_db()
    assert (user.timezone, user.first_name) == ("America/New_York", "Alice")


def test_user_update_refuses_a_bad_timezone_and_changes_nothing(user, gql):
    data = gql.data(USER_UPDATE, {"input": {"timezone": "Europe/Atlantis", "firstName": "Al"}})
    assert data["userUpdate"]["user"] is None
    assert [(e["field"], e["code"]) for e in data["userUpdate"]["errors"]] == [
        ("timezone", "invalid_timezone")
    ]
    user.refresh_from_db()
    assert (user.timezone, user.first_name) == ("Europe/Paris", "")


def test_user_update_refuses_a_null_timezone(gql):
    data = gql.data(USER_UPDATE, {"input": {"timezone": None}})
    assert data["userUpdate"]["errors"] == [
        {"field": "timezone", "message": "This field cannot be null.", "code": "null"}
    ]


def test_user_update_refuses_an_overlong_name(gql):
    data = gql.data(USER_UPDATE, {"input": {"lastName": "x" * 151}})
    assert [(e["field"], e["code"]) for e in data["userUpdate"]["errors"]] == [
        ("lastName", "max_length")
    ]


def test_user_update_requires_authentication(anon):
    body = anon(USER_UPDATE, {"input": {"timezone": "UTC"}})
    assert body["data"] is None
    assert body["errors"][0]["message"] == "Authentication required: log in first."
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


def test_password_change_keeps_the_session_and_replaces_the_password(user, gql):
    new = "a much better passphrase 42"
    data = gql.data(PASSWORD_CHANGE, {"old": PASSWORD, "new": new})
    assert data["passwordChange"] == {"user": {"email": "alice@example.com"}, "errors": []}
    assert gql.data(ME)["me"]["email"] == "alice@example.com"
    user.refresh_from_db()
    assert user.check_password(new)


def test_password_change_refuses_a_wrong_old_password(user, gql):
    data = gql.data(PASSWORD_CHANGE, {"old": "guess", "new": "a much better passphrase 42"})
    assert data["passwordChange"]["errors"] == [{"field": "oldPassword", "code": "wrong_password"}]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_password_change_runs_the_password_validators(user, gql):
    data = gql.data(PASSWORD_CHANGE, {"old": PASSWORD, "new": "12345"})
    assert {e["code"] for e in data["passwordChange"]["errors"]} == {
        "password_too_short",
        "password_too_common",
        "password_entirely_numeric",
    }
    assert {e["field"] for e in data["passwordChange"]["errors"]} == {"newPassword"}
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_password_change_ends_other_sessions(user, gql):
    other_device = Client()
    other_device.force_login(user)
    gql.data(PASSWORD_CHANGE, {"old": PASSWORD, "new": "a much better passphrase 42"})
    assert GraphQLClient(other_device).data(ME)["me"] is None


def test_a_browser_post_without_the_csrf_token_is_refused(user):
    # Given a browser whose requests Django checks for CSRF, as for cookie sessions
    gql = GraphQLClient(Client(enforce_csrf_checks=True))

    # When it logs in without the token
    refused = gql.post(LOGIN, {"email": "alice@example.com", "password": PASSWORD})

    # Then the request is refused before any GraphQL runs
    assert refused.status_code == 403


def test_a_browser_post_with_the_token_from_csrf_is_accepted(user):
    # Given a browser that fetched the token from /csrf/
    browser = Client(enforce_csrf_checks=True)
    token = browser.get("/csrf/").json()["csrfToken"]

    # When it logs in sending the token
    accepted = GraphQLClient(browser).post(
        LOGIN, {"email": "alice@example.com", "password": PASSWORD}, X_CSRFToken=token
    )

    # Then the mutation runs
    assert accepted.status_code == 200
    assert accepted.json()["data"]["login"]["user"] == {"email": "alice@example.com"}
