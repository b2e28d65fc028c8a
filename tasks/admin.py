from django.contrib import admin

from tasks.models import Task, TaskDependency


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "status", "scheduled_at", "created_at")
    list_filter = ("status",)
    search_fields = ("title", "owner__email")
    raw_id_fields = ("owner",)


@admin.register(TaskDependency)
class TaskDependencyAdmin(admin.ModelAdmin):
    list_display = ("task", "pre_task", "created_at")
    raw_id_fields = ("task", "pre_task")
