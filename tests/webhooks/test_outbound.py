"""Outbound webhooks in-process: the API, the outbox written with the change, deliveries signed
and verified by a real receiver on loopback with the `standardwebhooks` package, retries,
disabling, redelivery and the sweep. Deliveries run through the actor, taken off the stub
broker where the after-commit waker put them."""

import time
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from tasks.models import Task
from tasks.services import task_complete, task_create, task_delete, task_update
from tests.factories import TaskDependencyFactory, TaskFactory
from tests.graphql import global_id
from tests.webhooks.conftest import queued_deliveries, run_queued
from webhooks import services
from webhooks.delivery import backoff, delivery_attempt, webhook_sweep
from webhooks.models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

CREATE = """
mutation($input: WebhookCreateInput!) {
  webhookCreate(input: $input) {
    webhook { id url events enabled description }
    secret
    errors { field message code }
  }
}"""

DELIVERIES = """
query($id: ID!, $state: WebhookDeliveryState) {
  webhookDeliveries(webhookId: $id, state: $state) {
    id webhookId eventType state attempts lastStatusCode lastError payload
    attemptLog { statusCode error succeeded }
  }
}"""

RETRY = """
mutation($id: ID!) {
  webhookDeliveryRetry(id: $id) { delivery { state attempts } errors { field message code } }
}"""


@pytest.fixture
def endpoint(user, receiver):
    created = services.webhook_create(
        user=user,
        url=receiver.url,
        events=["task.created", "task.updated", "task.completed", "task.deleted", "task.ready"],
    )
    receiver.secret = created.secret
    return created.endpoint


def deliver_all(stub_broker, django_capture_on_commit_callbacks, action):
    with django_capture_on_commit_callbacks(execute=True):
        result = action()
    run_queued(stub_broker)
    return result


def test_webhook_create_returns_the_secret_once_and_lists_without_it(gql, receiver, settings):
    data = gql.data(
        CREATE,
        {
            "input": {
                "url": receiver.url,
                "events": ["TASK_CREATED", "TASK_READY"],
                "description": "CI",
            }
        },
    )["webhookCreate"]

    assert data["errors"] == []
    assert data["secret"].startswith("whsec_")
    assert data["webhook"]["url"] == receiver.url
    assert data["webhook"]["events"] == ["TASK_CREATED", "TASK_READY"]
    assert data["webhook"]["enabled"] is True
    listed = gql.data("{ webhooks { id url events } }")["webhooks"]
    assert listed == [
        {"id": data["webhook"]["id"], "url": receiver.url, "events": ["TASK_CREATED", "TASK_READY"]}
    ]
    assert "secret" not in str(gql.post("{ webhooks { id } }").content)


def test_webhook_create_refuses_bad_urls_and_unknown_limits(gql, user, receiver, settings):
    settings.WEBHOOK_MAX_PER_USER = 1
    refused = gql.data(
        CREATE, {"input": {"url": "ftp://example.com/x", "events": ["TASK_CREATED"]}}
    )
    assert refused["webhookCreate"] == {
        "webhook": None,
        "secret": None,
        "errors": [{"field": "url", "message": "Enter a valid http(s) URL.", "code": "invalid"}],
    }
    empty = gql.data(CREATE, {"input": {"url": receiver.url, "events": []}})
    assert empty["webhookCreate"]["errors"] == [
        {"field": "events", "message": "Choose at least one event.", "code": "required"}
    ]
    gql.data(CREATE, {"input": {"url": receiver.url, "events": ["TASK_CREATED"]}})
    over = gql.data(CREATE, {"input": {"url": receiver.url, "events": ["TASK_CREATED"]}})
    assert over["webhookCreate"]["errors"] == [
        {
            "field": None,
            "message": "You have 1 webhooks, the most allowed: delete one first.",
            "code": "limit_reached",
        }
    ]


def test_a_task_created_is_delivered_signed_once_with_its_data(
    user, endpoint, receiver, stub_broker, django_capture_on_commit_callbacks
):
    task = deliver_all(
        stub_broker,
        django_capture_on_commit_callbacks,
        lambda: task_create(owner=user, title="Ship it"),
    )

    [got] = receiver.received
    assert got.verified is True
    assert got.type == "task.created"
    assert got.data["task"]["id"] == task.pk
    assert got.data["task"]["title"] == "Ship it"
    assert got.data["task"]["status"] == "OPEN"
    assert got.webhook_id.startswith("msg_")
    assert set(got.headers) >= {"webhook-id", "webhook-timestamp", "webhook-signature"}
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.SUCCEEDED
    assert delivery.attempts == 1
    assert delivery.last_status_code == 200
    assert got.webhook_id == delivery.event.webhook_id


def test_nothing_is_recorded_for_owners_without_endpoints_or_unsubscribed_events(
    user, other_user, receiver, stub_broker, django_capture_on_commit_callbacks
):
    services.webhook_create(user=user, url=receiver.url, events=["task.deleted"])
    with django_capture_on_commit_callbacks(execute=True):
        task_create(owner=user, title="Not subscribed")
        task_create(owner=other_user, title="No endpoint")
    assert WebhookDelivery.objects.count() == 0
    assert queued_deliveries(stub_broker) == []


def test_a_rolled_back_change_records_no_event(user, endpoint, stub_broker):
    with pytest.raises(RuntimeError), django_transaction_atomic():
        task_create(owner=user, title="Rolled back")
        raise RuntimeError
    assert WebhookDelivery.objects.count() == 0
    assert Task.objects.count() == 0


def django_transaction_atomic():
    from django.db import transaction

    return transaction.atomic()


def test_update_complete_ready_and_delete_events(
    user, endpoint, receiver, stub_broker, django_capture_on_commit_callbacks
):
    pre = TaskFactory(owner=user, title="Pre")
    dependent = TaskFactory(owner=user, title="Dependent")
    other_pre = TaskFactory(owner=user, title="Other pre")
    blocked = TaskFactory(owner=user, title="Blocked")
    TaskDependencyFactory(task=dependent, pre_task=pre)
    TaskDependencyFactory(task=blocked, pre_task=pre)
    TaskDependencyFactory(task=blocked, pre_task=other_pre)

    def act():
        task_update(task=pre, title="Pre (renamed)")
        task_complete(task=pre)
        task_delete(task=other_pre)

    deliver_all(stub_broker, django_capture_on_commit_callbacks, act)

    got = sorted((r.type, r.data["task"]["title"]) for r in receiver.received)
    assert got == [
        ("task.completed", "Pre (renamed)"),
        ("task.deleted", "Other pre"),
        ("task.ready", "Blocked"),  # its last open pre-task deleted
        ("task.ready", "Dependent"),
        ("task.updated", "Pre (renamed)"),
    ]
    assert all(r.verified for r in receiver.received)


def test_failures_retry_with_backoff_then_succeed_with_the_same_webhook_id(
    user, endpoint, receiver, stub_broker, django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_RETRY_BACKOFF_MS = 50
    receiver.statuses = [500, 503]
    deliver_all(
        stub_broker, django_capture_on_commit_callbacks, lambda: task_create(owner=user, title="T")
    )
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.PENDING
    assert delivery.attempts == 1
    assert delivery.last_status_code == 500

    for _ in range(2):
        time.sleep(0.25)
        with django_capture_on_commit_callbacks(execute=True):
            delivery_attempt(pk=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SUCCEEDED
    assert delivery.attempts == 3
    assert [r.status for r in receiver.received] == [500, 503, 200]
    assert len({r.webhook_id for r in receiver.received}) == 1
    assert list(
        WebhookAttempt.objects.order_by("started_at").values_list("status_code", "succeeded")
    ) == [(500, False), (503, False), (200, True)]
    # The retry after the first failure was queued as a delayed message.
    assert backoff(1) == timedelta(milliseconds=50)
    assert backoff(2) == timedelta(milliseconds=100)
    assert backoff(40) == timedelta(seconds=settings.WEBHOOK_RETRY_MAX_BACKOFF_SECONDS)


def test_a_delivery_not_yet_due_or_already_sent_is_not_attempted(
    user, endpoint, receiver, stub_broker, django_capture_on_commit_callbacks
):
    deliver_all(
        stub_broker, django_capture_on_commit_callbacks, lambda: task_create(owner=user, title="T")
    )
    delivery = WebhookDelivery.objects.get()
    assert delivery_attempt(pk=delivery.pk) is None
    assert len(receiver.received) == 1


def test_redirects_are_not_followed_and_count_as_failures(
    user, endpoint, receiver, stub_broker, django_capture_on_commit_callbacks
):
    receiver.default_status = 302
    receiver.headers = {"location": "http://169.254.169.254/latest/meta-data/"}
    deliver_all(
        stub_broker, django_capture_on_commit_callbacks, lambda: task_create(owner=user, title="T")
    )
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.PENDING
    assert delivery.last_status_code == 302
    assert delivery.last_error == "HTTP 302 (redirects are not followed)"
    assert len(receiver.received) == 1


def test_retries_stop_after_the_retry_period(
    user, endpoint, receiver, stub_broker, django_capture_on_commit_callbacks
):
    receiver.default_status = 500
    deliver_all(
        stub_broker, django_capture_on_commit_callbacks, lambda: task_create(owner=user, title="T")
    )
    delivery = WebhookDelivery.objects.select_related("event").get()
    delivery.event.created_at -= timedelta(hours=25)
    delivery.event.save()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    delivery_attempt(pk=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.FAILED
    assert delivery.attempts == 2


def test_an_endpoint_failing_n_times_in_a_row_is_disabled_and_its_owner_emailed(
    user, endpoint, receiver, stub_broker, django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    settings.WEBHOOK_DISABLE_AFTER_SECONDS = 0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    receiver.default_status = 500
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(4):
            task_create(owner=user, title=f"T{n}")
    with django_capture_on_commit_callbacks(execute=True):
        run_queued(stub_broker)

    endpoint.refresh_from_db()
    assert endpoint.enabled is False
    assert endpoint.disabled_reason == "Disabled after 3 failed attempts in a row."
    assert len(receiver.received) == 3
    states = sorted(WebhookDelivery.objects.values_list("state", flat=True))
    assert states == ["FAILED"] * 4
    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject == "Taskgraph: your webhook was disabled"
    assert receiver.url in message.body
    # Disabled: new changes record nothing for it.
    with django_capture_on_commit_callbacks(execute=True):
        task_create(owner=user, title="After")
    assert WebhookDelivery.objects.count() == 4


def test_a_run_of_failures_shorter_than_the_period_does_not_disable(
    user, endpoint, receiver, stub_broker, django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    receiver.default_status = 500
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            task_create(owner=user, title=f"T{n}")
    run_queued(stub_broker)
    endpoint.refresh_from_db()
    assert endpoint.enabled is True
    assert endpoint.consecutive_failures == 5
    assert endpoint.failing_since is not None


def test_a_success_resets_the_failure_count(
    user, endpoint, receiver, stub_broker, django_capture_on_commit_callbacks, settings
):
    receiver.statuses = [500, 500]
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            task_create(owner=user, title=f"T{n}")
    run_queued(stub_broker)
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0
    assert endpoint.failing_since is None


def test_the_delivery_log_and_redelivery_through_the_api(
    gql, user, endpoint, receiver, stub_broker, django_capture_on_commit_callbacks
):
    receiver.statuses = [500]
    deliver_all(
        stub_broker, django_capture_on_commit_callbacks, lambda: task_create(owner=user, title="T")
    )
    webhook = global_id("WebhookEndpoint", endpoint.pk)
    [logged] = gql.data(DELIVERIES, {"id": webhook})["webhookDeliveries"]
    delivery = WebhookDelivery.objects.select_related("event").get()
    assert logged["webhookId"] == delivery.event.webhook_id
    assert logged["eventType"] == "TASK_CREATED"
    assert logged["state"] == "PENDING"
    assert logged["attempts"] == 1
    assert logged["lastStatusCode"] == 500
    assert logged["lastError"] == "HTTP 500"
    assert logged["payload"]["task"]["title"] == "T"
    assert logged["attemptLog"] == [{"statusCode": 500, "error": "HTTP 500", "succeeded": False}]

    with django_capture_on_commit_callbacks(execute=True):
        retried = gql.data(RETRY, {"id": logged["id"]})["webhookDeliveryRetry"]
    assert retried == {"delivery": {"state": "PENDING", "attempts": 1}, "errors": []}
    run_queued(stub_broker)
    assert [r.status for r in receiver.received] == [500, 200]
    assert (
        gql.data(DELIVERIES, {"id": webhook, "state": "SUCCEEDED"})["webhookDeliveries"][0][
            "attempts"
        ]
        == 2
    )

    # A success can be redelivered too, with the same webhook-id.
    with django_capture_on_commit_callbacks(execute=True):
        gql.data(RETRY, {"id": logged["id"]})
    run_queued(stub_broker)
    assert len(receiver.received) == 3
    assert len({r.webhook_id for r in receiver.received}) == 1


def test_another_users_webhooks_and_deliveries_are_invisible(
    other_gql, user, endpoint, receiver, stub_broker, django_capture_on_commit_callbacks
):
    deliver_all(
        stub_broker, django_capture_on_commit_callbacks, lambda: task_create(owner=user, title="T")
    )
    delivery = WebhookDelivery.objects.get()
    assert other_gql.data("{ webhooks { id } }") == {"webhooks": []}
    assert other_gql.data(DELIVERIES, {"id": global_id("WebhookEndpoint", endpoint.pk)}) == {
        "webhookDeliveries": []
    }
    assert other_gql.data(RETRY, {"id": global_id("WebhookDelivery", delivery.pk)}) == {
        "webhookDeliveryRetry": {
            "delivery": None,
            "errors": [{"field": "id", "message": "Delivery not found.", "code": "not_found"}],
        }
    }
    deleted = other_gql.data(
        "mutation($id: ID!) { webhookDelete(id: $id) { deletedId errors { code } } }",
        {"id": global_id("WebhookEndpoint", endpoint.pk)},
    )
    assert deleted == {"webhookDelete": {"deletedId": None, "errors": [{"code": "not_found"}]}}
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_update_rotate_and_delete(gql, user, endpoint, receiver):
    webhook = global_id("WebhookEndpoint", endpoint.pk)
    updated = gql.data(
        "mutation($id: ID!) { webhookUpdate(id: $id, input: {enabled: false, events: [TASK_DELETED]})"
        " { webhook { enabled events } errors { code } } }",
        {"id": webhook},
    )
    assert updated == {
        "webhookUpdate": {"webhook": {"enabled": False, "events": ["TASK_DELETED"]}, "errors": []}
    }
    rotated = gql.data(
        "mutation($id: ID!) { webhookSecretRotate(id: $id) { secret errors { code } } }",
        {"id": webhook},
    )["webhookSecretRotate"]
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != receiver.secret
    endpoint.refresh_from_db()
    assert endpoint.secret == rotated["secret"]
    gql.data("mutation($id: ID!) { webhookDelete(id: $id) { deletedId } }", {"id": webhook})
    assert not WebhookEndpoint.objects.exists()


def test_the_sweep_wakes_lost_deliveries_and_gives_back_dead_workers_claims(
    user, endpoint, receiver, stub_broker, django_capture_on_commit_callbacks, settings
):
    # The after-commit message is lost (a wiped Redis): nothing is sent...
    with django_capture_on_commit_callbacks(execute=True):
        task_create(owner=user, title="Lost message")
        task_create(owner=user, title="Dead worker")
    queued_deliveries(stub_broker)
    lost, dead = WebhookDelivery.objects.order_by("pk")
    assert webhook_sweep() == 0  # not overdue yet
    # ...until the sweep finds it overdue.
    past = timezone.now() - timedelta(seconds=settings.WEBHOOK_LOST_AFTER_SECONDS + 1)
    WebhookDelivery.objects.filter(pk=lost.pk).update(next_attempt_at=past)
    # A worker claimed the other one and died mid-send.
    stale = timezone.now() - timedelta(seconds=settings.WEBHOOK_STALE_SENDING_SECONDS + 1)
    WebhookDelivery.objects.filter(pk=dead.pk).update(
        state=DeliveryState.SENDING, claimed_at=stale, attempts=1, version=5
    )

    assert webhook_sweep() == 1
    assert run_queued(stub_broker) == 1
    assert webhook_sweep(restart=True) == 1
    assert run_queued(stub_broker) == 1

    assert sorted(WebhookDelivery.objects.values_list("state", "attempts")) == [
        ("SUCCEEDED", 1),
        ("SUCCEEDED", 2),
    ]
    assert sorted(r.data["task"]["title"] for r in receiver.received) == [
        "Dead worker",
        "Lost message",
    ]


def test_a_message_for_a_deleted_endpoint_or_delivery_does_nothing(
    user, endpoint, receiver, stub_broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        task_create(owner=user, title="T")
    endpoint.delete()
    assert run_queued(stub_broker) == 1
    assert receiver.received == []
    assert delivery_attempt(pk=987_654_321) is None


RETRY_FULL = """
mutation($id: ID!) {
  webhookDeliveryRetry(id: $id) {
    delivery { id state attempts nextAttemptAt webhookId attemptLog { statusCode } }
    errors { field message code }
  }
}"""


def test_a_retry_answers_what_it_did_without_reading_the_delivery_again(
    gql,
    user,
    endpoint,
    receiver,
    stub_broker,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    receiver.statuses = [500]
    deliver_all(
        stub_broker, django_capture_on_commit_callbacks, lambda: task_create(owner=user, title="T")
    )
    delivery = WebhookDelivery.objects.select_related("event").get()
    delivery_id = global_id("WebhookDelivery", delivery.pk)

    # session, user, savepoint, the locked read, the endpoint check, the update, release:
    # the delivery as the service left it, with nothing read again after the commit.
    with django_assert_num_queries(7), django_capture_on_commit_callbacks(execute=False):
        retried = gql.data(RETRY, {"id": delivery_id})["webhookDeliveryRetry"]
    assert retried == {"delivery": {"state": "PENDING", "attempts": 1}, "errors": []}

    # Its event and attempt log are read only when asked for, one query each.
    with django_assert_num_queries(9), django_capture_on_commit_callbacks(execute=False):
        retried = gql.data(RETRY_FULL, {"id": delivery_id})["webhookDeliveryRetry"]
    stored = WebhookDelivery.objects.get()
    assert stored.state == DeliveryState.PENDING
    assert stored.version == delivery.version + 2
    assert retried == {
        "delivery": {
            "id": delivery_id,
            "state": "PENDING",
            "attempts": 1,
            "nextAttemptAt": stored.next_attempt_at.isoformat(),
            "webhookId": delivery.event.webhook_id,
            "attemptLog": [{"statusCode": 500}],
        },
        "errors": [],
    }
