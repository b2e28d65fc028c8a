"""Account services called directly, as the API calls them: the policies live here."""

import pytest
from django.core.exceptions import ValidationError

from tests.factories import PASSWORD
from users import services

pytestmark = pytest.mark.django_db


def refusal(call) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as refused:
        call()
    return [(error.message, error.code) for error in refused.value.error_list]


def test_user_login_returns_the_user_for_the_right_password_and_normalises_the_email(user):
    logged_in = services.user_login(
        email="alice@EXAMPLE.COM", password=PASSWORD, address="10.0.0.1"
    )
    assert logged_in == user


def test_user_login_counts_failures_and_then_refuses_even_the_right_password(user):
    def attempt(password):
        return services.user_login(email=user.email, password=password, address="10.0.0.1")

    for _ in range(5):
        assert refusal(lambda: attempt("wrong")) == [
            ("Invalid email or password.", "invalid_credentials")
        ]
    assert refusal(lambda: attempt(PASSWORD)) == [
        ("Too many failed login attempts. Try again in 15 minutes.", "throttled")
    ]


def test_a_wrong_current_password_counts_as_a_failed_login_of_the_account(user):
    def change():
        return services.user_password_change(
            user=user, old_password="wrong", new_password="a new long passphrase", address="1.2.3.4"
        )

    for _ in range(5):
        with pytest.raises(ValidationError) as refused:
            change()
        assert refused.value.message_dict == {"old_password": ["The current password is wrong."]}
    assert refusal(
        lambda: services.user_login(email=user.email, password=PASSWORD, address="5.6.7.8")
    ) == [("Too many failed login attempts. Try again in 15 minutes.", "throttled")]


def test_registrations_from_one_address_are_throttled(db):
    for n in range(10):
        services.user_register(
            email=f"user{n}@example.net", password="correct horse battery", address="10.9.9.9"
        )
    assert refusal(
        lambda: services.user_register(
            email="one-more@example.net", password="correct horse battery", address="10.9.9.9"
        )
    ) == [("Too many registrations from your network. Try again in 60 minutes.", "throttled")]
