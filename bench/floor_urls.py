"""The API's URLs plus the hand-written floor view the GraphQL list is measured against."""

import base64

from django.db.models import Prefetch
from django.http import HttpRequest, JsonResponse
from django.urls import path

from core.urls import urlpatterns as api_urlpatterns
from tasks.models import Task


def _gid(pk: int) -> str:
    return base64.b64encode(f"Task:{pk}".encode()).decode()


def floor_task_list(request: HttpRequest) -> JsonResponse:
    """What a careful engineer writes by hand for the same page: the ORM with only() and one
    prefetch, the same two queries the GraphQL layer runs, no framework on top."""
    tasks = list(
        Task.objects.filter(owner_id=request.user.pk)
        .order_by("created_at", "id")
        .only("id", "title", "status", "scheduled_at")
        .prefetch_related(
            Prefetch("pre_tasks", queryset=Task.objects.only("id", "title").order_by("id"))
        )[:50]
    )
    edges = {
        task.pk: [{"id": _gid(pre.pk), "title": pre.title} for pre in task.pre_tasks.all()]
        for task in tasks
    }
    return JsonResponse(
        {
            "data": {
                "tasks": {
                    "edges": [
                        {
                            "node": {
                                "id": _gid(task.pk),
                                "title": task.title,
                                "status": task.status,
                                "scheduledAt": task.scheduled_at.isoformat()
                                if task.scheduled_at
                                else None,
                                "preTasks": edges[task.pk],
                            }
                        }
                        for task in tasks
                    ]
                }
            }
        }
    )


def lean_task_list(request: HttpRequest) -> JsonResponse:
    """The same page without model instances: tuples from values_list, edges joined by hand."""
    rows = list(
        Task.objects.filter(owner_id=request.user.pk)
        .order_by("created_at", "id")
        .values_list("id", "title", "status", "scheduled_at")[:50]
    )
    edges: dict[int, list[dict]] = {row[0]: [] for row in rows}
    links = (
        Task.pre_tasks.through.objects.filter(task_id__in=edges)
        .order_by("pre_task_id")
        .values_list("task_id", "pre_task_id", "pre_task__title")
    )
    for task_id, pre_id, pre_title in links:
        edges[task_id].append({"id": _gid(pre_id), "title": pre_title})
    return JsonResponse(
        {
            "data": {
                "tasks": {
                    "edges": [
                        {
                            "node": {
                                "id": _gid(pk),
                                "title": title,
                                "status": status,
                                "scheduledAt": scheduled_at.isoformat() if scheduled_at else None,
                                "preTasks": edges[pk],
                            }
                        }
                        for pk, title, status, scheduled_at in rows
                    ]
                }
            }
        }
    )


urlpatterns = [
    *api_urlpatterns,
    path("floor/tasks/", floor_task_list),
    path("floor/lean/", lean_task_list),
]
