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
