import gc
import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

from core.views import anymail_tracking_view

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")

application = get_wsgi_application()
get_resolver().resolve("/health/")  # import the URLconf and the GraphQL schema before freezing
if settings.EMAIL_PROVIDER in settings.TRACKING_WEBHOOK_SIGNING_KEYS:
    anymail_tracking_view(settings.EMAIL_PROVIDER)  # and Anymail's webhooks, when one is served

# Objects alive after start-up (modules, the schema, settings) live as long as the process:
# keep them out of the cyclic collector so full collections stay short on large responses.
gc.collect()
gc.freeze()
