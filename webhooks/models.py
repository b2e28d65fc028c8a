"""Outbound webhooks: endpoints, the outbox of events, one delivery per (event, endpoint) and
its attempts. The rows are the truth; Dramatiq messages only wake a worker (docs/webhooks.md)."""

import uuid

from django.conf import settings
from django.db import models

URL_MAX_LENGTH = 2000
DESCRIPTION_MAX_LENGTH = 200


class EventType(models.TextChoices):
    TASK_CREATED = "task.created"
    TASK_UPDATED = "task.updated"
    TASK_COMPLETED = "task.completed"
    TASK_DELETED = "task.deleted"
    TASK_READY = "task.ready"
    REMINDER_SENT = "reminder.sent"
    REMINDER_FAILED = "reminder.failed"
    REMINDER_DELIVERY = "reminder.delivery"


class WebhookEndpoint(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=URL_MAX_LENGTH)
    events = models.JSONField(default=list)
    description = models.CharField(max_length=DESCRIPTION_MAX_LENGTH, blank=True)
    # Standard Webhooks symmetric secret ("whsec_" + base64). Kept because signing needs it;
    # shown once, when the endpoint is created, and never returned by the API again.
    secret = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "enabled"])]

    def __str__(self) -> str:
        return self.url


class WebhookEvent(models.Model):
    """One event, written in the transaction of the change it reports (the outbox)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=40, choices=EventType.choices)
    data = models.JSONField()
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.type} {self.webhook_id}"

    @property
    def webhook_id(self) -> str:
        """The ``webhook-id`` header: the same for every attempt and every redelivery."""
        return f"msg_{self.id.hex}"


class DeliveryState(models.TextChoices):
    PENDING = "PENDING"
    SENDING = "SENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class WebhookDelivery(models.Model):
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once")
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["endpoint", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.state})"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    succeeded = models.BooleanField()

    class Meta:
        indexes = [models.Index(fields=["delivery", "started_at"])]

    def __str__(self) -> str:
        return f"attempt {self.pk} ({self.status_code or self.error})"


class IdempotencyState(models.TextChoices):
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"


class IdempotencyKey(models.Model):
    """One ``Idempotency-Key`` of one caller: the request's fingerprint and, once it ran, the
    response to replay. Unique per (user, key); expired rows are deleted by a periodic job."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=11, choices=IdempotencyState.choices)
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(blank=True, default=b"")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once")]
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"


DOCUMENT_MAX_LENGTH = 10_000
NAME_MAX_LENGTH = 100


class InboundHook(models.Model):
    """A URL (/hooks/<public_id>/) that runs one stored GraphQL mutation as its owner when a
    signed request arrives."""

    # Names the hook in its URL, /hooks/<public_id>/: random, unlike the primary key.
    public_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inbound_hooks"
    )
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    document = models.TextField()
    # {"variableName": "/json/pointer"}; empty: the body's top-level keys are the variables.
    variables = models.JSONField(default=dict, blank=True)
    secret = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class InboundDelivery(models.Model):
    """One request received by a hook, as answered (the newest ones are kept)."""

    hook = models.ForeignKey(InboundHook, on_delete=models.CASCADE, related_name="deliveries")
    webhook_id = models.CharField(max_length=255)
    received_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField()
    replayed = models.BooleanField(default=False)
    response = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["hook", "-received_at"])]

    def __str__(self) -> str:
        return f"{self.webhook_id} ({self.status_code})"
