import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")

application = get_wsgi_application()
get_resolver().resolve("/health/")  # import the URLconf and the GraphQL schema before freezing

# Objects alive after start-up (modules, the schema, settings) live as long as the process:
# keep them out of the cyclic collector so full collections stay short on large responses.
gc.collect()
gc.freeze()
