"""Idempotency-Key on /graphql/: at most once per key and caller, replays, reuse refused,
concurrent identical requests executed once (PostgreSQL), expiry."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from tasks.models import Task
from tests.conftest import skip_or_fail
from tests.security.tokens import bearer_client, token_for
from webhooks.idempotency import fingerprint_of, idempotency_expire
from webhooks.models import IdempotencyKey, IdempotencyState

CREATE = """
mutation($title: String!) {
  taskCreate(input: {title: $title}) { task { id title } errors { code } }
}"""


def body(title: str) -> str:
    return json.dumps({"query": CREATE, "variables": {"title": title}})


def post(client: Client, data: str, key: str | None = "key-1"):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post("/graphql/", data=data, content_type="application/json", headers=headers)


@pytest.fixture
def client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_a_repeat_gets_the_stored_response_and_runs_nothing(client):
    first = post(client, body("Once"))
    again = post(client, body("Once"))

    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Task.objects.count() == 1
    assert json.loads(first.content)["data"]["taskCreate"]["task"]["title"] == "Once"


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_refused(client):
    post(client, body("Once"))
    other = post(client, body("Twice"))

    assert other.status_code == 422
    assert other.json() == {
        "data": None,
        "errors": [
            {
                "message": "This Idempotency-Key was already used for a different request; use"
                " a new key for a new request.",
                "extensions": {"code": "IDEMPOTENCY_KEY_REUSED"},
            }
        ],
    }
    assert Task.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_per_caller_and_requests_without_a_key_are_untouched(client, other_user):
    other = Client()
    other.force_login(other_user)
    post(client, body("Mine"))
    post(other, body("Mine"))
    post(client, body("No key"), key=None)
    post(client, body("No key"), key=None)
    assert Task.objects.filter(title="Mine").count() == 2
    assert Task.objects.filter(title="No key").count() == 2


@pytest.mark.django_db
def test_an_api_token_caller_gets_the_same_guarantee(user):
    _, secret = token_for(user)
    script = bearer_client(secret).client
    first = post(script, body("By token"))
    again = post(script, body("By token"))
    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert Task.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "é"])
def test_malformed_keys_are_refused(client, key):
    response = post(client, body("Bad key"), key=key)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "IDEMPOTENCY_KEY_INVALID"}
    assert Task.objects.count() == 0


@pytest.mark.django_db
def test_anonymous_callers_cannot_use_keys():
    response = post(Client(), body("Anon"))
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"] == {"code": "IDEMPOTENCY_KEY_UNAUTHENTICATED"}


@pytest.mark.django_db
def test_a_key_still_running_answers_409_after_the_wait(client, user, settings):
    settings.IDEMPOTENCY_WAIT_SECONDS = 0.1
    now = timezone.now()
    IdempotencyKey.objects.create(
        user=user,
        key="key-1",
        fingerprint="0" * 64,
        state=IdempotencyState.IN_PROGRESS,
        started_at=now,
        expires_at=now + timedelta(days=1),
    )
    # Same fingerprint as the running one, so it waits rather than being refused as reused.
    data = body("Slow")
    IdempotencyKey.objects.update(fingerprint=fingerprint_of("POST", "/graphql/", data.encode()))
    response = post(client, data)
    assert response.status_code == 409
    assert response["Retry-After"] == "1"
    assert response.json()["errors"][0]["extensions"] == {"code": "IDEMPOTENCY_KEY_IN_PROGRESS"}

    # Left running by a process that died: taken over after IDEMPOTENCY_STALE_SECONDS.
    IdempotencyKey.objects.update(started_at=now - timedelta(seconds=121))
    taken = post(client, data)
    assert taken.status_code == 200
    assert Task.objects.filter(title="Slow").count() == 1


@pytest.mark.django_db
def test_expired_keys_run_again_and_the_periodic_job_deletes_them(client, user):
    post(client, body("Daily"))
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    again = post(client, body("Daily"))
    assert "Idempotent-Replayed" not in again
    assert Task.objects.count() == 2

    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert idempotency_expire() == 1
    assert IdempotencyKey.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_requests_execute_once(user, settings):
    if connection.vendor != "postgresql":
        skip_or_fail("concurrent requests need PostgreSQL: set DATABASE_URL")
    responses = []
    barrier = threading.Barrier(6)

    def run():
        client = Client()
        client.force_login(user)
        try:
            barrier.wait()
            responses.append(post(client, body("Concurrent"), key="same-key"))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Task.objects.filter(title="Concurrent").count() == 1
    assert [r.status_code for r in responses] == [200] * 6
    assert len({r.content for r in responses}) == 1
    assert sum(r.get("Idempotent-Replayed") == "true" for r in responses) == 5
