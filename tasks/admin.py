from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from tasks.models import Reminder, Task, TaskDependency
from tasks.reminders.services import reminders_send_again

# Every changelist names the relations it shows in list_select_related, so a page costs the
# same few queries whatever its number of rows (tests/ops/test_admin.py counts them).


class PreTaskInline(admin.TabularInline):
    model = TaskDependency
    fk_name = "task"
    raw_id_fields = ("pre_task",)
    extra = 0
    verbose_name = "pre-task"
    verbose_name_plural = "pre-tasks (must be done first)"


class ReminderInline(admin.TabularInline):
    model = Reminder
    fields = ("remind_at", "minutes_before", "state", "attempts", "sent_at", "delivery_status")
    readonly_fields = ("state", "attempts", "sent_at", "delivery_status")
    extra = 0


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "status", "scheduled_at", "created_at")
    list_filter = ("status", "scheduled_at", "created_at")
    list_select_related = ("owner",)
    search_fields = ("title", "owner__email")
    date_hierarchy = "created_at"
    raw_id_fields = ("owner",)
    inlines = (PreTaskInline, ReminderInline)


@admin.register(TaskDependency)
class TaskDependencyAdmin(admin.ModelAdmin):
    list_display = ("task", "pre_task", "created_at")
    list_select_related = ("task", "pre_task")
    search_fields = ("task__title", "pre_task__title")
    raw_id_fields = ("task", "pre_task")


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "task",
        "owner_email",
        "remind_at",
        "state",
        "attempts",
        "sent_at",
        "delivery_status",
    )
    list_filter = ("state", "delivery_status", "remind_at")
    list_select_related = ("task__owner",)
    search_fields = ("task__title", "task__owner__email", "message_id")
    raw_id_fields = ("task",)
    readonly_fields = (
        "state",
        "due_at",
        "attempts",
        "version",
        "queued_at",
        "claimed_at",
        "sent_at",
        "message_id",
        "delivery_status",
        "last_error",
        "created_at",
        "updated_at",
    )
    actions = ("send_again",)

    @admin.display(description="owner", ordering="task__owner__email")
    def owner_email(self, reminder: Reminder) -> str:
        return reminder.task.owner.email

    @admin.action(description="Send again now (through the worker, like any reminder)")
    def send_again(self, request: HttpRequest, queryset: QuerySet[Reminder]) -> None:
        chosen = list(queryset.values_list("pk", flat=True))
        rearmed = reminders_send_again(pks=chosen)
        self.message_user(request, f"{rearmed} reminder(s) queued to be sent again.")
        if rearmed < len(chosen):
            self.message_user(
                request,
                f"{len(chosen) - rearmed} reminder(s) are being sent right now: left alone.",
                messages.WARNING,
            )
