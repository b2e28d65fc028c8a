from django.contrib import admin
from django.urls import include, path

from core import views
from schema.schema import schema
from schema.views import GraphQLView

urlpatterns = [
    path("graphql/", GraphQLView.as_view(schema=schema), name="graphql"),
    path("csrf/", views.csrf, name="csrf"),
    path("health/", views.health, name="health"),
    path("admin/", admin.site.urls),
    # Tracking webhooks: /anymail/<esp>/tracking/ (delivery status of reminders).
    path("anymail/", include("anymail.urls")),
]
