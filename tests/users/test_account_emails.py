"""Email verification, email change, password reset and account deletion, through GraphQL."""

import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from tasks.models import Reminder, Task
from tests.factories import PASSWORD, TaskFactory, UserFactory
from tests.graphql import GraphQLClient
from tests.security.tokens import token_for
from tests.users.conftest import link_in
from users import accounts
from users.models import ApiToken, User

pytestmark = pytest.mark.django_db

REGISTER = """
mutation($email: String!) {
  register(input: {email: $email, password: "correct horse battery staple"}) {
    user { email emailVerified } errors { field message code }
  }
}
"""
VERIFY = """
mutation($token: String!) {
  emailVerify(token: $token) { user { email emailVerified } errors { field message code } }
}
"""
RESEND = "mutation { emailVerificationResend { ok errors { field message code } } }"
CHANGE = """
mutation($email: String!, $password: String!) {
  emailChange(email: $email, password: $password) {
    user { email emailVerified } errors { field message code }
  }
}
"""
RESET = "mutation($e: String!) { passwordResetRequest(email: $e) { ok errors { message code } } }"
CONFIRM = """
mutation($uid: String!, $token: String!, $p: String!) {
  passwordResetConfirm(uid: $uid, token: $token, newPassword: $p) {
    user { email emailVerified } errors { field message code }
  }
}
"""
DELETE = (
    "mutation($p: String!) { accountDelete(password: $p) { ok errors { field message code } } }"
)


def token_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def test_registration_emails_a_link_that_verifies_the_address(anon, account_mail):
    with account_mail.requests():
        data = anon.data(REGISTER, {"email": "Bob@Example.com"})
    assert data["register"]["user"] == {"email": "bob@example.com", "emailVerified": False}
    [message] = account_mail.sent()
    assert message.to == ["bob@example.com"]
    assert message.subject == "Confirm your email address for Taskgraph"
    url = link_in(message, "verify-email")
    assert "The link works for 72 hours." in message.body
    assert "Taskgraph sends it no\nreminders" in message.body

    token = url.split("token=", 1)[1]
    assert token == token_of(url)["token"]  # copied by hand from the console, it works as is
    data = anon.data(VERIFY, {"token": token})
    assert data["emailVerify"] == {
        "user": {"email": "bob@example.com", "emailVerified": True},
        "errors": [],
    }
    verified_at = User.objects.get().email_verified_at
    assert verified_at is not None
    # Following the link again is harmless and keeps the first moment.
    assert anon.data(VERIFY, token_of(url))["emailVerify"]["errors"] == []
    assert User.objects.get().email_verified_at == verified_at
    assert anon.data("{ me { emailVerified } }") == {"me": {"emailVerified": True}}


def test_a_tampered_or_expired_token_is_refused(anon, settings, db):
    user = UserFactory(email_verified_at=None)
    token = accounts.email_verification_token(user=user)
    tampered = anon.data(VERIFY, {"token": token[:-2] + "xx"})["emailVerify"]
    assert tampered == {
        "user": None,
        "errors": [
            {
                "field": "token",
                "message": "This verification link is not valid.",
                "code": "invalid_token",
            }
        ],
    }
    assert (
        anon.data(VERIFY, {"token": "garbage"})["emailVerify"]["errors"][0]["code"]
        == "invalid_token"
    )
    other_salt = signing.dumps({"user": user.pk, "email": user.email})
    assert (
        anon.data(VERIFY, {"token": other_salt})["emailVerify"]["errors"][0]["code"]
        == "invalid_token"
    )
    settings.EMAIL_VERIFICATION_MAX_AGE = 1
    time.sleep(2.1)
    expired = anon.data(VERIFY, {"token": token})["emailVerify"]["errors"]
    assert expired == [
        {
            "field": "token",
            "message": "This verification link has expired: ask for a new one.",
            "code": "expired_token",
        }
    ]
    user.refresh_from_db()
    assert user.email_verified_at is None


def test_the_resend_is_limited(db, account_mail, settings):
    user = UserFactory(email="new@example.com", email_verified_at=None)
    client = Client()
    client.force_login(user)
    gql = GraphQLClient(client)
    with account_mail.requests():
        for _ in range(3):
            assert gql.data(RESEND)["emailVerificationResend"] == {"ok": True, "errors": []}
        refused = gql.data(RESEND)["emailVerificationResend"]
    assert refused == {
        "ok": False,
        "errors": [
            {
                "field": None,
                "message": "Too many verification emails. Try again in 60 minutes.",
                "code": "throttled",
            }
        ],
    }
    assert [m.to for m in account_mail.sent()] == [["new@example.com"]] * 3


def test_a_verified_address_gets_no_resend(gql, account_mail):
    with account_mail.requests():
        data = gql.data(RESEND)["emailVerificationResend"]
    assert data["errors"] == [
        {
            "field": "email",
            "message": "This address is already verified.",
            "code": "already_verified",
        }
    ]
    assert account_mail.sent() == []


# 312 characters: Django's validate_email takes up to 320, the column 254 (a DataError, an
# internal error, on PostgreSQL).
TOO_LONG_ADDRESS = "a" * 64 + "@" + ("b" * 60 + ".") * 4 + "com"
LONGEST_ADDRESS = "a" * 64 + "@" + ("b" * 60 + ".") * 3 + "b" * 2 + ".com"


def test_an_address_longer_than_the_column_is_refused_and_the_longest_taken(
    user, gql, account_mail
):
    data = gql.data(CHANGE, {"email": TOO_LONG_ADDRESS, "password": PASSWORD})
    assert data["emailChange"] == {
        "user": None,
        "errors": [
            {
                "field": "email",
                "message": "Ensure this value has at most 254 characters (it has 312).",
                "code": "max_length",
            }
        ],
    }
    assert User.objects.get(pk=user.pk).email == "alice@example.com"
    assert len(LONGEST_ADDRESS) == 254
    with account_mail.requests():
        data = gql.data(CHANGE, {"email": LONGEST_ADDRESS, "password": PASSWORD})
    assert data["emailChange"] == {
        "user": {"email": LONGEST_ADDRESS, "emailVerified": False},
        "errors": [],
    }


def test_changing_the_address_needs_the_password_and_a_new_verification(user, gql, account_mail):
    wrong = gql.data(CHANGE, {"email": "alice@new.example", "password": "guess"})["emailChange"]
    assert wrong["errors"] == [
        {"field": "password", "message": "The password is wrong.", "code": "wrong_password"}
    ]
    UserFactory(email="taken@example.com")
    taken = gql.data(CHANGE, {"email": "taken@example.com", "password": PASSWORD})["emailChange"]
    assert [e["code"] for e in taken["errors"]] == ["unique"]
    old_token = accounts.email_verification_token(user=user)
    with account_mail.requests():
        data = gql.data(CHANGE, {"email": "Alice@New.example", "password": PASSWORD})
    assert data["emailChange"] == {
        "user": {"email": "alice@new.example", "emailVerified": False},
        "errors": [],
    }
    [message] = account_mail.sent()
    assert message.to == ["alice@new.example"]
    # A link sent to the old address cannot verify the new one.
    assert (
        gql.data(VERIFY, {"token": old_token})["emailVerify"]["errors"][0]["code"]
        == "invalid_token"
    )
    url = link_in(message, "verify-email")
    assert gql.data(VERIFY, token_of(url))["emailVerify"]["user"]["emailVerified"] is True


def test_a_password_reset_link_sets_a_new_password_once(user, anon, account_mail):
    user.email_verified_at = None
    user.save()
    with account_mail.requests():
        assert anon.data(RESET, {"e": "ALICE@example.com"})["passwordResetRequest"] == {
            "ok": True,
            "errors": [],
        }
        # An address without an account gets the same answer, and no email.
        assert anon.data(RESET, {"e": "nobody@example.com"})["passwordResetRequest"]["ok"]
    [message] = account_mail.sent()
    assert message.to == ["alice@example.com"]
    assert message.subject == "Reset your Taskgraph password"
    params = token_of(link_in(message, "reset-password"))
    variables = {**params, "p": "a brand new passphrase"}
    data = anon.data(CONFIRM, variables)["passwordResetConfirm"]
    assert data == {"user": {"email": "alice@example.com", "emailVerified": True}, "errors": []}
    user.refresh_from_db()
    assert user.check_password("a brand new passphrase")
    again = anon.data(CONFIRM, {**params, "p": "yet another passphrase"})["passwordResetConfirm"]
    assert again["errors"] == [
        {
            "field": "token",
            "message": "This password reset link is not valid or has expired.",
            "code": "invalid_token",
        }
    ]
    bad_uid = anon.data(CONFIRM, {**variables, "uid": "!!"})["passwordResetConfirm"]
    assert bad_uid["errors"][0]["code"] == "invalid_token"


def test_a_reset_refuses_a_weak_password_and_requests_are_limited(user, anon, account_mail):
    with account_mail.requests():
        for _ in range(3):
            anon.data(RESET, {"e": "alice@example.com"})
        limited = anon.data(RESET, {"e": "alice@example.com"})["passwordResetRequest"]
    assert limited == {
        "ok": False,
        "errors": [
            {
                "message": "Too many password reset requests. Try again in 60 minutes.",
                "code": "throttled",
            }
        ],
    }
    sent = account_mail.sent()
    assert len(sent) == 3
    params = token_of(link_in(sent[-1], "reset-password"))
    weak = anon.data(CONFIRM, {**params, "p": "123"})["passwordResetConfirm"]
    assert {e["field"] for e in weak["errors"]} == {"newPassword"}
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_deleting_the_account_needs_the_password_and_removes_everything(user, gql, other_user):
    at = timezone.now() + timedelta(days=1)
    mine = TaskFactory(owner=user, scheduled_at=at)
    Reminder.objects.create(task=mine, remind_at=at, due_at=at)
    token_for(user)
    theirs = TaskFactory(owner=other_user)
    wrong = gql.data(DELETE, {"p": "guess"})["accountDelete"]
    assert wrong == {
        "ok": False,
        "errors": [
            {"field": "password", "message": "The password is wrong.", "code": "wrong_password"}
        ],
    }
    assert gql.data(DELETE, {"p": PASSWORD})["accountDelete"] == {"ok": True, "errors": []}
    assert not User.objects.filter(pk=user.pk).exists()
    assert list(Task.objects.all()) == [theirs]
    assert Reminder.objects.count() == 0
    assert ApiToken.objects.count() == 0
    assert gql.data("{ me { email } }") == {"me": None}


def test_api_tokens_cannot_manage_the_account(user):
    from tests.security.tokens import bearer_client

    _, secret = token_for(user)
    client = bearer_client(secret)
    for document in (DELETE, CHANGE, RESEND):
        body = client(document, {"p": PASSWORD, "email": "x@example.com", "password": PASSWORD})
        assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    assert User.objects.filter(pk=user.pk).exists()
