"""`manage.py healthprobe web|worker|scheduler`: the container healthcheck of each process.

- web: GET /health/ (liveness) on this container's server.
- worker: this host's worker heartbeat is recent (its heartbeat thread runs).
- scheduler: this host's scheduler enqueued a periodic message recently (every minute).

Exits 0 when healthy, 1 otherwise, with one line saying why.
"""

import socket
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core import health


def _probe_host() -> str:
    # The server refuses Host headers outside ALLOWED_HOSTS: present the first allowed one.
    for host in settings.ALLOWED_HOSTS:
        if host != "*":
            return host.lstrip(".")
    return "localhost"


class Command(BaseCommand):
    help = "Exit 0 if this container's process (web, worker or scheduler) is alive."

    def add_arguments(self, parser) -> None:
        parser.add_argument("process", choices=["web", "worker", "scheduler"])
        parser.add_argument("--url", default="http://127.0.0.1:8000/health/")
        parser.add_argument("--max-age", type=int, help="seconds (worker, scheduler)")

    def handle(self, *args, process: str, url: str, max_age: int | None, **options) -> None:
        if process == "web":
            self._web(url)
            return
        default_age = {
            "worker": settings.HEALTH_WORKER_MAX_AGE,
            "scheduler": settings.HEALTH_DISPATCHER_MAX_AGE,
        }[process]
        max_age = default_age if max_age is None else max_age
        seen = health.last_beat(process, this_host=True)
        if seen is None:
            raise CommandError(f"No {process} heartbeat from {socket.gethostname()} yet.")
        age = time.time() - seen
        if age > max_age:
            raise CommandError(f"The {process} last beat {age:.0f} s ago (limit {max_age} s).")
        self.stdout.write(f"{process} alive: last beat {age:.1f} s ago")

    def _web(self, url: str) -> None:
        request = urllib.request.Request(url, headers={"Host": _probe_host()})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                self.stdout.write(f"web alive: {response.status}")
        except (urllib.error.URLError, TimeoutError) as exc:
            raise CommandError(f"{url} does not answer: {exc}") from exc
