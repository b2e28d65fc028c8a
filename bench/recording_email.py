"""An email backend for benchmarks: records when each reminder was handed to it, sends nothing.

One line per message, "<reminder id> <epoch seconds>", appended with one write() each so the
worker's threads never interleave lines. The file is named by BENCH_RECORD_FILE.
"""

import os
import time

from django.core.mail.backends.base import BaseEmailBackend


class EmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        now = time.time()
        lines = "".join(
            f"{m.extra_headers['X-Taskgraph-Reminder']} {now:.6f}\n" for m in email_messages
        )
        fd = os.open(os.environ["BENCH_RECORD_FILE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, lines.encode())
        finally:
            os.close(fd)
        return len(email_messages)
