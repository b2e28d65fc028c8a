"""DEBUG=0: settings are checked at start-up, in a fresh interpreter each time."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = secrets.token_urlsafe(64)


def run(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANYMAIL_", "EMAIL_", "GRAPHQL_", "SECURE_"))
        and key not in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "REDIS_URL", "CACHE_URL")
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="core.settings",
        DEBUG="0",
        SECRET_KEY=GOOD_KEY,
        ALLOWED_HOSTS="api.example.com,testserver",
        DATABASE_URL="sqlite://:memory:",
    )
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return run(
        "import sys; from django.core.management import execute_from_command_line; "
        f"execute_from_command_line(['manage.py', *{list(args)!r}])",
        **env,
    )


def startup_error(**env: str) -> str:
    result = run("import django; django.setup()", **env)
    assert result.returncode != 0
    return result.stderr.strip().splitlines()[-1]


def test_check_deploy_reports_nothing():
    result = manage("check", "--deploy", "--fail-level", "DEBUG")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (1 silenced)."


@pytest.mark.parametrize(
    "key",
    ["django-insecure-taskgraph-development-key-do-not-use-in-production", "short"],
    ids=["development-key", "short-key"],
)
def test_production_refuses_to_start_without_a_real_secret_key(key):
    assert startup_error(SECRET_KEY=key) == (
        "django.core.exceptions.ImproperlyConfigured: SECRET_KEY must be set to a random value "
        "of at least 50 characters when DEBUG=0."
    )


def test_production_refuses_to_start_without_allowed_hosts():
    assert startup_error(ALLOWED_HOSTS="") == (
        "django.core.exceptions.ImproperlyConfigured: ALLOWED_HOSTS must be set when DEBUG=0."
    )


def test_production_refuses_an_email_provider_without_a_webhook_secret():
    assert startup_error(EMAIL_PROVIDER="mailgun", ANYMAIL_MAILGUN_API_KEY="key") == (
        "django.core.exceptions.ImproperlyConfigured: ANYMAIL_WEBHOOK_SECRET must be set when "
        "EMAIL_PROVIDER=mailgun and DEBUG=0: without it the tracking webhook accepts forged "
        "delivery events."
    )


@pytest.mark.parametrize("name", ["Idempotency Key", "Key:", "Clé"])
def test_an_idempotency_header_that_is_no_header_name_is_refused(name):
    assert startup_error(EMAIL_PROVIDER="smtp", EMAIL_IDEMPOTENCY_HEADER=name) == (
        f"django.core.exceptions.ImproperlyConfigured: EMAIL_IDEMPOTENCY_HEADER={name!r} is not "
        "a header name: printable ASCII without spaces or ':', e.g. Resend-Idempotency-Key."
    )


def test_the_webhook_secret_is_read_from_the_environment():
    result = run(
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.ANYMAIL['WEBHOOK_SECRET'])",
        EMAIL_PROVIDER="postmark",
        ANYMAIL_WEBHOOK_SECRET="hook:s3cret",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hook:s3cret"


def test_production_defaults_are_locked_down():
    result = run(
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({n: getattr(s, n) for n in ["
        "'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT', "
        "'SECURE_HSTS_SECONDS', 'GRAPHQL_INTROSPECTION', 'GRAPHQL_GRAPHIQL', "
        "'GRAPHQL_MASK_ERRORS']}))"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "GRAPHQL_INTROSPECTION": False,
        "GRAPHQL_GRAPHIQL": False,
        "GRAPHQL_MASK_ERRORS": True,
    }


def test_proxy_ssl_header_and_hsts_are_configurable():
    result = run(
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_PROXY_SSL_HEADER, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_PRELOAD)",
        SECURE_PROXY_SSL_HEADER="1",
        SECURE_HSTS_SECONDS="600",
        SECURE_HSTS_PRELOAD="1",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https') 600 True"


REQUESTS = r"""
import django, json
django.setup()
from django.test import Client
c = Client()
out = {}
r = c.post("/graphql/", "{not json", content_type="application/json", secure=True)
out["bad_json"] = [r.status_code, r.content.decode()]
r = c.post("/graphql/", json.dumps({"query": "{ __schema { types { name } } }"}),
           content_type="application/json", secure=True)
out["introspection"] = r.json()["errors"][0]["message"]
r = c.post("/graphql/", json.dumps({"query": "{ mee { email } }"}),
           content_type="application/json", secure=True)
out["suggestion"] = r.json()["errors"][0]["message"]
r = c.get("/graphql/", headers={"Accept": "text/html"}, secure=True)
out["graphiql"] = r.status_code
out["http"] = [c.get("/graphql/").status_code, c.get("/health/").status_code]
r = c.get("/no-such-page/", secure=True)
out["not_found"] = [r.status_code, "Traceback" in r.content.decode()]
print(json.dumps(out))
"""


def test_production_answers_without_tracebacks_introspection_or_suggestions():
    result = run(REQUESTS)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "bad_json": [
            400,
            '{"data": null, "errors": [{"message": "The request body is not valid JSON.", '
            '"extensions": {"code": "INVALID_JSON"}}]}',
        ],
        "introspection": "GraphQL introspection has been disabled, but the requested query "
        "contained the field '__schema'.",
        "suggestion": "Cannot query field 'mee' on type 'Query'.",
        "graphiql": 404,
        "http": [301, 200],
        "not_found": [404, False],
    }
