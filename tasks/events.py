"""What tasks and reminders tell webhook endpoints: the payloads of their events.

The services call these inside their transactions; ``webhooks.events`` writes the outbox rows
(nothing at all when no endpoint of the owner listens). Ids are the database keys; the GraphQL
global id of a task is base64 of "Task:<id>" (see docs/webhooks.md).
"""

from collections.abc import Iterable

from tasks.models import Reminder, Task, TaskStatus
from webhooks.events import events_record
from webhooks.models import EventType


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def task_data(task: Task) -> dict:
    return {
        "task": {
            "id": task.pk,
            "title": task.title,
            "description": task.description,
            "status": task.status,
            "scheduled_at": _iso(task.scheduled_at),
            "completed_at": _iso(task.completed_at),
        }
    }


def task_event(type: EventType, task: Task) -> None:
    events_record([(task.owner_id, type, task_data(task))])


def task_completed_events(task: Task) -> None:
    """task.completed, and task.ready for each dependent whose last open pre-task this was."""
    ready = (
        Task.objects.filter(pre_task_links__pre_task=task, status=TaskStatus.OPEN)
        .exclude(pre_task_links__pre_task__status=TaskStatus.OPEN)
        .distinct()
    )
    events = [(task.owner_id, EventType.TASK_COMPLETED, task_data(task))]
    events += [(task.owner_id, EventType.TASK_READY, task_data(other)) for other in ready]
    events_record(events)


def reminder_data(reminder: Reminder, **extra) -> dict:
    return {
        "reminder": {
            "id": reminder.pk,
            "task_id": reminder.task_id,
            "remind_at": _iso(reminder.remind_at),
            "state": reminder.state,
            "sent_at": _iso(reminder.sent_at),
            "delivery_status": reminder.delivery_status,
            "last_error": reminder.last_error,
            **extra,
        }
    }


def reminder_events(type: EventType, pks: Iterable[int]) -> None:
    pks = list(pks)
    if not pks:
        return
    reminders = (
        Reminder.objects.filter(pk__in=pks)
        .select_related("task")
        .only(
            "pk",
            "task_id",
            "task__owner_id",
            "remind_at",
            "state",
            "sent_at",
            "delivery_status",
            "last_error",
        )
    )
    events_record(
        [(reminder.task.owner_id, type, reminder_data(reminder)) for reminder in reminders]
    )
