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


urlpatterns = [*api_urlpatterns, path("floor/tasks/", floor_task_list)]
