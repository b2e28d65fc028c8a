"""A webhook receiver on loopback, in a thread: it verifies every request with the
`standardwebhooks` package, records what came, and answers what the test tells it to."""

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.processes import free_port

RECEIVER_PORTS = range(18400, 18440)


@dataclass
class Received:
    webhook_id: str
    type: str
    data: dict
    verified: bool
    status: int
    at: float
    headers: dict


class Receiver:
    def __init__(self) -> None:
        self.port = free_port(RECEIVER_PORTS)
        self.secret: str | None = None
        self.received: list[Received] = []
        # Answers to give, in order; when empty, `default_status`.
        self.statuses: list[int] = []
        self.default_status = 200
        self.headers: dict[str, str] = {}
        self.delay = 0.0  # seconds to wait before answering
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if receiver.delay:
                    time.sleep(receiver.delay)
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    Webhook(receiver.secret).verify(body, headers)
                    verified = True
                except WebhookVerificationError:
                    verified = False
                with receiver.lock:
                    status = (
                        receiver.statuses.pop(0) if receiver.statuses else receiver.default_status
                    )
                    parsed = json.loads(body)
                    receiver.received.append(
                        Received(
                            headers.get("webhook-id", ""),
                            parsed.get("type", ""),
                            parsed.get("data", {}),
                            verified,
                            status,
                            time.time(),
                            headers,
                        )
                    )
                self.send_response(status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def reset(self) -> None:
        with self.lock:
            self.received = []
            self.statuses = []
            self.default_status = 200
            self.headers = {}
            self.delay = 0.0

    def ids(self) -> list[str]:
        with self.lock:
            return [r.webhook_id for r in self.received if r.status < 300]
