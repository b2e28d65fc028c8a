"""Where the link in a reminder email leads.

``REMINDER_TASK_URL`` is a template for the task's page in your front end, ``{id}`` standing
for the task's Relay global ID (the one ``task(id:)`` takes), e.g.
``https://app.example.com/tasks/{id}``. Unset (development), the link opens GraphiQL on this API
with the task's query and its variables filled in (the GraphiQL page puts the ``q`` and
``variables`` parameters in its editor, schema/views.py), at ``API_URL``; `manage.py runserver`
replaces that with the address it serves, so ``runserver 0.0.0.0:8123`` gives links to port
8123.
"""

import base64
import json
from urllib.parse import quote

from django.conf import settings

from tasks.models import Task

TASK_QUERY = """query Task($id: ID!) {
  task(id: $id) {
    id title description scheduledAt status
    reminders { remindAt state sentAt }
    preTasks { id title status }
  }
}"""

# The query as a URL parameter (spaces as %20, never '+': the same link must work wherever it
# is decoded), computed once: every reminder email carries it.
_QUERY_PARAMETER = quote(TASK_QUERY, safe="")

_served_at: str | None = None


def serving_at(*, addr: str, port: str, ipv6: bool = False, protocol: str = "http") -> None:
    """Called by runserver: links point at the address it serves."""
    global _served_at
    if addr in ("0", "0.0.0.0", "::", ""):  # all interfaces: the local one opens in a browser
        addr = "::1" if ipv6 else "127.0.0.1"
    host = f"[{addr}]" if ipv6 else addr
    _served_at = f"{protocol}://{host}:{port}"


def api_url() -> str:
    return _served_at or settings.API_URL


def task_url(task: Task) -> str:
    global_id = base64.b64encode(f"Task:{task.pk}".encode()).decode()
    if settings.REMINDER_TASK_URL:
        return settings.REMINDER_TASK_URL.format(id=quote(global_id, safe=""))
    variables = quote(json.dumps({"id": global_id}), safe="")
    return f"{api_url()}/graphql/?q={_QUERY_PARAMETER}&variables={variables}"
