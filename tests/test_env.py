"""core/env.py: how settings read the environment (django-environ under the project's rules)."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from core.env import Env


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_variable_gives_the_default_for_every_type(value):
    env = Env({"FLAG": value, "COUNT": value, "NAME": value, "HOSTS": value})

    assert env.bool("FLAG", True) is True
    assert env.int("COUNT", 7) == 7
    assert env.str("NAME", "default") == "default"
    assert env.list("HOSTS", default=["a"]) == ["a"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[("1", True), ("TRUE", True), ("yes", True), ("On", True)],
        *[("0", False), ("false", False), ("NO", False), ("off", False)],
    ],
)
def test_booleans_read_the_usual_words(value, expected):
    assert Env({"FLAG": value}).bool("FLAG", not expected) is expected


@pytest.mark.parametrize("value", ["flase", "2", "enabled"])
def test_a_misspelt_boolean_is_refused_with_its_name(value):
    with pytest.raises(ImproperlyConfigured) as error:
        Env({"DEBUG": value}).bool("DEBUG", True)

    assert str(error.value) == f"DEBUG must be a boolean (1/0, true/false), got {value!r}."


def test_a_non_integer_is_refused_with_its_name():
    with pytest.raises(ImproperlyConfigured) as error:
        Env({"EMAIL_PORT": "25a"}).int("EMAIL_PORT", 25)

    assert str(error.value) == "EMAIL_PORT must be an integer, got '25a'."


def test_lists_are_comma_separated_with_items_stripped():
    env = Env({"HOSTS": " api.example.com , ,example.org,"})

    assert env.list("HOSTS", default=[]) == ["api.example.com", "example.org"]


def test_a_value_starting_with_a_dollar_is_taken_literally():
    # django-environ alone would look up a variable named "abc" and fall back to the default.
    env = Env({"SECRET_KEY": "$abc", "abc": "other"})

    assert env.str("SECRET_KEY", "development") == "$abc"


def test_prefixed_variables_are_keyed_without_the_prefix_and_empty_ones_dropped():
    env = Env({"ANYMAIL_WEBHOOK_SECRET": "a:b", "ANYMAIL_API_KEY": "", "OTHER": "x"})

    assert env.prefixed("ANYMAIL_") == {"WEBHOOK_SECRET": "a:b"}
