from django.conf import settings
from django.db import models

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 10_000


class TaskStatus(models.TextChoices):
    OPEN = "OPEN", "Open"
    DONE = "DONE", "Done"


class Task(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tasks"
    )
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    description = models.TextField(max_length=DESCRIPTION_MAX_LENGTH, blank=True, default="")
    scheduled_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=4, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    pre_tasks = models.ManyToManyField(
        "self",
        through="TaskDependency",
        through_fields=("task", "pre_task"),
        symmetrical=False,
        related_name="dependents",
        blank=True,
    )

    class Meta:
        indexes = [
            models.Index(fields=["owner", "created_at", "id"], name="task_owner_created"),
            models.Index(fields=["owner", "scheduled_at", "id"], name="task_owner_scheduled"),
            models.Index(fields=["owner", "status", "scheduled_at"], name="task_owner_status"),
            models.Index(fields=["owner", "title", "id"], name="task_owner_title"),
            # Readiness probes "is this pre-task open?" once per listed task: an index-only
            # lookup in the open tasks alone.
            models.Index(
                fields=["id"], condition=models.Q(status=TaskStatus.OPEN), name="task_open"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(title=""),
                name="task_title_not_blank",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=TaskStatus.values), name="task_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status=TaskStatus.OPEN, completed_at__isnull=True)
                | models.Q(status=TaskStatus.DONE, completed_at__isnull=False),
                name="task_completed_at_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class TaskDependency(models.Model):
    """An edge of the pre-task graph: `pre_task` must be done before `task`."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="pre_task_links")
    pre_task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="dependent_links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "pre_task"], name="taskdependency_unique_edge"),
            models.CheckConstraint(
                condition=~models.Q(task=models.F("pre_task")), name="taskdependency_no_self_loop"
            ),
        ]
        indexes = [models.Index(fields=["pre_task", "task"], name="taskdependency_reverse")]

    def __str__(self) -> str:
        return f"{self.pre_task_id} -> {self.task_id}"


class ReminderState(models.TextChoices):
    PENDING = "PENDING", "Pending"
    QUEUED = "QUEUED", "Queued"
    SENDING = "SENDING", "Sending"
    SENT = "SENT", "Sent"
    FAILED = "FAILED", "Failed"
    CANCELLED = "CANCELLED", "Cancelled"


class Reminder(models.Model):
    """An email reminder for a task: the row is the source of truth, broker messages only wake
    the worker up. ``due_at`` is when the next attempt may run (``remind_at``, or later after a
    transient failure); ``version`` changes whenever the row is re-armed or claimed, so a
    worker that lost its claim cannot write over a newer state."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="reminders")
    remind_at = models.DateTimeField()
    minutes_before = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Set for reminders relative to the task's scheduled time; they move with it.",
    )
    state = models.CharField(
        max_length=9, choices=ReminderState.choices, default=ReminderState.PENDING
    )
    due_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)
    queued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=255, blank=True, default="")
    delivery_status = models.CharField(max_length=32, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    waiting_reason = models.CharField(
        max_length=16,
        blank=True,
        default="",
        help_text="EMAIL_LIMIT while held back by the owner's hourly or daily email cap.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["state", "due_at"], name="reminder_state_due"),
            models.Index(fields=["task", "remind_at"], name="reminder_task_time"),
            models.Index(fields=["message_id"], name="reminder_message_id"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=ReminderState.values), name="reminder_state_valid"
            ),
            # One email per task and moment: two reminders at the same time would send two.
            models.UniqueConstraint(
                fields=["task", "remind_at"],
                condition=~models.Q(state=ReminderState.CANCELLED),
                name="reminder_one_per_moment",
            ),
        ]

    def __str__(self) -> str:
        return f"Reminder {self.pk} for task {self.task_id} at {self.remind_at:%Y-%m-%d %H:%M}"
