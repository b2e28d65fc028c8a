"""The API's URLs plus the reference views the GraphQL list is measured against.

Each view reads the same page with the same SQL the GraphQL layer runs: the owner's first 50
tasks with only the selected columns, and one prefetch of their pre-tasks (owner-filtered,
ordered by id) into a plain list (`to_attr`), as `schema/types.py` does.
"""

import base64

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, JsonResponse
from django.urls import path
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer

from core.urls import urlpatterns as api_urlpatterns
from tasks.models import Task

PAGE = 50


def _gid(pk: int) -> str:
    return base64.b64encode(f"Task:{pk}".encode()).decode()


def task_page(owner_id: int) -> QuerySet[Task]:
    pre_tasks = Task.objects.filter(owner_id=owner_id).only("id", "title").order_by("id")
    return (
        Task.objects.filter(owner_id=owner_id)
        .order_by("created_at", "id")
        .only("id", "title", "status", "scheduled_at")
        .prefetch_related(Prefetch("pre_tasks", queryset=pre_tasks, to_attr="pre_task_list"))
    )[:PAGE]


def floor_task_list(request: HttpRequest) -> JsonResponse:
    """What a careful engineer writes by hand for the same page: the ORM, no framework on top."""
    tasks = task_page(request.user.pk)
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
                                "preTasks": [
                                    {"id": _gid(pre.pk), "title": pre.title}
                                    for pre in task.pre_task_list
                                ],
                            }
                        }
                        for task in tasks
                    ]
                }
            }
        }
    )


class GlobalIDField(serializers.ReadOnlyField):
    """A task's Relay global ID, as the GraphQL API writes it."""

    def to_representation(self, value: int) -> str:
        return _gid(value)


class OffsetDateTimeField(serializers.DateTimeField):
    """ISO 8601 with `+00:00`, as GraphQL's DateTime writes it (DRF's default writes `Z`)."""

    def to_representation(self, value) -> str:
        return self.enforce_timezone(value).isoformat()


class PreTaskSerializer(serializers.ModelSerializer):
    id = GlobalIDField(source="pk")

    class Meta:
        model = Task
        fields = ["id", "title"]


class TaskSerializer(serializers.ModelSerializer):
    id = GlobalIDField(source="pk")
    scheduledAt = OffsetDateTimeField(source="scheduled_at", read_only=True)
    preTasks = PreTaskSerializer(source="pre_task_list", many=True, read_only=True)

    class Meta:
        model = Task
        fields = ["id", "title", "status", "scheduledAt", "preTasks"]


class DRFTaskList(ListAPIView):
    """What a Django REST framework user writes: a nested ModelSerializer over the same
    prefetch, session authentication, JSON out, no pagination class (the page is the slice)."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]
    serializer_class = TaskSerializer

    def get_queryset(self) -> QuerySet[Task]:
        return task_page(self.request.user.pk)


def lean_task_list(request: HttpRequest) -> JsonResponse:
    """The same page without model instances: tuples from values_list, edges joined by hand."""
    rows = list(
        Task.objects.filter(owner_id=request.user.pk)
        .order_by("created_at", "id")
        .values_list("id", "title", "status", "scheduled_at")[:PAGE]
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
    path("floor/drf/", DRFTaskList.as_view()),
    path("floor/lean/", lean_task_list),
]
