from django.contrib import admin
from django.urls import path

from core import metrics, views
from core.health import readiness
from schema.hook_view import inbound_hook_view
from schema.schema import schema
from schema.views import GraphQLView

urlpatterns = [
    path("graphql/", GraphQLView.as_view(schema=schema), name="graphql"),
    path("csrf/", views.csrf, name="csrf"),
    # Inbound hooks (issue 12): signed requests that run one stored mutation.
    path("hooks/<uuid:hook_id>/", inbound_hook_view, name="inbound-hook"),
    # Liveness (no I/O) at both; readiness checks every dependency (core/health.py).
    path("health/", views.health, name="health"),
    path("health/live/", views.health, name="health_live"),
    path("health/ready/", readiness, name="health_ready"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    # The configured provider's tracking webhook only (delivery status of reminders).
    path("anymail/<str:esp>/tracking/", views.tracking_webhook, name="tracking_webhook"),
]
