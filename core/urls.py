from django.contrib import admin
from django.urls import include, path

from core import views
from schema.hook_view import inbound_hook_view
from schema.schema import schema
from schema.views import GraphQLView

urlpatterns = [
    path("graphql/", GraphQLView.as_view(schema=schema), name="graphql"),
    path("csrf/", views.csrf, name="csrf"),
    # Inbound hooks (issue 12): signed requests that run one stored mutation.
    path("hooks/<uuid:hook_id>/", inbound_hook_view, name="inbound-hook"),
    path("health/", views.health, name="health"),
    path("admin/", admin.site.urls),
    # Tracking webhooks: /anymail/<esp>/tracking/ (delivery status of reminders).
    path("anymail/", include("anymail.urls")),
]
