"""Failed logins and registrations are counted in the cache and lock for a window."""

import os
import subprocess
import sys
import time
import urllib.request

import pytest
from django.test import Client

from tests.factories import PASSWORD, UserFactory
from tests.graphql import GraphQLClient
from tests.processes import ROOT, free_port, wait_until
from users import throttle

pytestmark = pytest.mark.django_db

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { user { email } errors { field message code } }
}
"""
REGISTER = """
mutation Register($email: String!) {
  register(input: {email: $email, password: "correct horse battery staple"}) {
    user { email } errors { message code }
  }
}
"""
BAD = {"field": None, "message": "Invalid email or password.", "code": "invalid_credentials"}
LOCKED = {
    "field": None,
    "message": "Too many failed login attempts. Try again in 15 minutes.",
    "code": "throttled",
}


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


def client_from(address: str) -> GraphQLClient:
    return GraphQLClient(Client(REMOTE_ADDR=address))


def login(client, email="alice@example.com", password="wrong"):
    return client.data(LOGIN, {"email": email, "password": password})["login"]["errors"]


def test_five_failed_logins_lock_the_account_even_for_the_right_password(user):
    client = client_from("10.0.0.1")
    for _ in range(5):
        assert login(client) == [BAD]
    assert login(client) == [LOCKED]
    assert login(client, password=PASSWORD) == [LOCKED]
    # From elsewhere too: the lock is on the account, whoever guesses.
    assert login(client_from("10.0.0.2"), password=PASSWORD) == [LOCKED]


def test_the_lock_holds_for_unknown_accounts_alike_so_it_reveals_nothing(db):
    client = client_from("10.0.0.1")
    for _ in range(5):
        assert login(client, email="ghost@example.com") == [BAD]
    assert login(client, email="ghost@example.com") == [LOCKED]


def test_a_locked_account_does_not_lock_other_accounts(user):
    UserFactory(email="bob@example.com")
    client = client_from("10.0.0.1")
    for _ in range(5):
        login(client)
    assert login(client, email="bob@example.com", password=PASSWORD) == []


def test_a_successful_login_forgives_earlier_failures(user):
    client = client_from("10.0.0.1")
    for _ in range(4):
        login(client)
    assert login(client, password=PASSWORD) == []
    for _ in range(4):
        assert login(client) == [BAD]


def test_twenty_failures_from_one_address_lock_that_address_for_every_account(user, settings):
    client = client_from("10.0.0.9")
    for n in range(20):
        assert login(client, email=f"guess{n}@example.com") == [BAD]
    assert login(client, password=PASSWORD) == [LOCKED]
    assert login(client_from("10.0.0.10"), password=PASSWORD) == []


def test_the_address_comes_from_x_forwarded_for_only_behind_trusted_proxies(user, settings):
    spoofing = GraphQLClient(Client(REMOTE_ADDR="10.0.0.9", headers={"X-Forwarded-For": "1.2.3.4"}))
    for n in range(20):
        login(spoofing, email=f"guess{n}@example.com")
    # Without trusted proxies the spoofed header is ignored: 10.0.0.9 is locked.
    assert login(client_from("10.0.0.9"), password=PASSWORD) == [LOCKED]
    settings.TRUSTED_PROXY_COUNT = 1
    proxied = GraphQLClient(Client(REMOTE_ADDR="10.0.0.9", headers={"X-Forwarded-For": "5.6.7.8"}))
    assert login(proxied, password=PASSWORD) == []


def test_registrations_from_one_address_are_limited(db, settings):
    settings.THROTTLE_REGISTRATIONS = 3
    client = client_from("10.0.0.1")
    for n in range(3):
        data = client.data(REGISTER, {"email": f"u{n}@example.com"})
        assert data["register"]["errors"] == []
        client.client.logout()
    data = client.data(REGISTER, {"email": "u4@example.com"})
    assert data["register"] == {
        "user": None,
        "errors": [
            {
                "message": "Too many registrations from your network. Try again in 60 minutes.",
                "code": "throttled",
            }
        ],
    }


def test_the_lock_expires_with_its_window(user, settings):
    settings.THROTTLE_WINDOW = 1
    client = client_from("10.0.0.1")
    for _ in range(5):
        login(client)
    assert login(client, password=PASSWORD) == [
        {**LOCKED, "message": "Too many failed login attempts. Try again in 1 minute."}
    ]
    time.sleep(1.1)
    assert login(client, password=PASSWORD) == []


@pytest.mark.services
def test_a_lock_set_by_one_web_process_is_seen_by_another_through_redis(settings, shared_redis):
    url, redis = shared_redis.url, shared_redis.client
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "taskgraph",
        }
    }
    email = f"alice-{time.time_ns()}@example.com"
    try:
        for _ in range(6):  # five let through to the password check, the sixth locks
            throttle.login_attempt(email=email, address="10.0.0.1")
        other_process = subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup(); from users import throttle; "
                f"print(throttle.login_attempt(email={email!r}, address='10.9.9.9'))",
            ],
            env={**os.environ, "CACHE_URL": url, "DJANGO_SETTINGS_MODULE": "core.settings"},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        assert 890 <= int(other_process.stdout) <= 900
    finally:
        for key in redis.scan_iter("taskgraph:*:throttle:*"):
            redis.delete(key)


def test_wrong_current_passwords_count_as_failed_logins(user, gql):
    change = (
        "mutation($old: String!) { passwordChange(oldPassword: $old, "
        'newPassword: "a new long passphrase") { errors { field message code } } }'
    )
    for _ in range(5):
        errors = gql.data(change, {"old": "guess"})["passwordChange"]["errors"]
        assert [e["code"] for e in errors] == ["wrong_password"]
    assert gql.data(change, {"old": PASSWORD})["passwordChange"]["errors"] == [LOCKED]
    assert login(client_from("10.0.0.2"), password=PASSWORD) == [LOCKED]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.services
def test_parallel_wrong_passwords_from_two_processes_get_at_most_the_limit_of_checks(
    tmp_path, shared_redis
):
    """2 client processes x 20 threads against gunicorn (2 workers x 20 threads) sharing Redis:
    the server checks the password exactly THROTTLE_LOGIN_ACCOUNT_FAILURES (5) times."""
    url, redis = shared_redis.url, shared_redis.client
    prefix = f"storm-{time.time_ns()}:"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.security.counting_server",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'storm.sqlite3'}",
        "CACHE_URL": url,
        "PASSWORD_CHECKS_URL": url,
        "CACHE_KEY_PREFIX": prefix,
        "DEBUG": "1",
        "REMINDERS_EMBEDDED": "0",
    }
    env.pop("REDIS_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], env=env, check=True, capture_output=True)
    subprocess.run(
        [
            *manage,
            "shell",
            "-c",
            "from users.models import User; "
            "User.objects.create_user('storm@example.com', 'the right passphrase')",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port(range(18400, 18440))
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "core.wsgi:application",
            "--workers",
            "2",
            "--threads",
            "20",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        assert wait_until(lambda: _answers(f"http://127.0.0.1:{port}/health/"), timeout=60)
        start_at = time.time() + 2
        clients = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.security.login_storm",
                    f"http://127.0.0.1:{port}/graphql/",
                    "storm@example.com",
                    "20",
                    str(start_at),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        codes = []
        for client in clients:
            out, _ = client.communicate(timeout=120)
            assert client.returncode == 0
            codes += out.split()
        checks = int(redis.get(prefix + "password-checks") or 0)
    finally:
        server.terminate()
        server.wait(timeout=30)
        for key in redis.scan_iter(f"{prefix}*"):
            redis.delete(key)
    assert len(codes) == 40
    assert codes.count("invalid_credentials") == 5
    assert codes.count("throttled") == 35
    assert checks == 5


def test_parallel_registrations_are_counted_exactly(settings):
    settings.THROTTLE_REGISTRATIONS = 3
    from tests.processes import run_at_once

    answers = run_at_once(lambda: throttle.registration_attempt(address="10.0.0.7"), times=20)
    assert answers.count(0) == 3
    assert all(3590 <= seconds <= 3600 for seconds in answers if seconds)
