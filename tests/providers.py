"""Email providers on loopback, for the chaos tests and the benchmarks.

- ``PostmarkServer``: an HTTP server that answers Postmark's ``POST /email`` the way Postmark
  does, after a fixed latency (20 ms models a provider across a network). Anymail's Postmark
  backend talks to it through ``ANYMAIL_POSTMARK_API_URL``.
- ``ResendServer``: Resend's ``POST /emails``, after a fixed latency, honouring the
  ``Idempotency-Key`` header as Resend documents it: a key seen in the last 24 hours gets the
  first answer again and no second email; the same key with another body, or while the first
  request with it is still being handled, gets 409. Anymail's Resend backend (through our
  ``core.email.ResendBackend``, which passes the key) talks to it through
  ``ANYMAIL_RESEND_API_URL``.
- ``python -m tests.providers smtp|postmark|resend --port N --record FILE [--latency-ms 20]`` runs the
  test suite's SMTP server or the Postmark server in a process of its own (so that a benchmark's
  own work does not slow the provider down), appending one line per accepted email to FILE:
  ``<reminder id> <epoch seconds> <connection>``, where the connection is the client's port
  (SMTP) or the server thread serving that keep-alive connection (HTTP).
"""

import argparse
import json
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Accepted:
    reminder_id: int
    at: float
    connection: str
    message_id: str
    to: str


@dataclass
class Record:
    """Accepted emails, in memory and optionally appended to a file (one write per line)."""

    path: str | None = None
    accepted: list[Accepted] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, item: Accepted) -> None:
        with self.lock:
            self.accepted.append(item)
        if self.path:
            line = f"{item.reminder_id} {item.at:.6f} {item.connection}\n".encode()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def replay(self, reminder_id: int) -> None:
        """A request whose idempotency key was seen before: answered, not sent again. With a
        path, noted in ``<path>.replayed`` (what a benchmark counts as duplicates avoided)."""
        if self.path:
            line = f"{reminder_id} {time.time():.6f}\n".encode()
            fd = os.open(f"{self.path}.replayed", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def reminder_ids(self) -> list[int]:
        with self.lock:
            return sorted(item.reminder_id for item in self.accepted)

    def connections(self) -> int:
        with self.lock:
            return len({item.connection for item in self.accepted})

    def reset(self) -> None:
        with self.lock:
            self.accepted.clear()


class _PostmarkHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a client's session reuses its connections
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed ACK

    def log_message(self, format, *args) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        server: PostmarkServer = self.server.owner
        if self.path != "/email":
            return self._answer(404, {"ErrorCode": 404, "Message": "Not found"})
        if self.headers.get("X-Postmark-Server-Token") != server.token:
            return self._answer(401, {"ErrorCode": 10, "Message": "Bad or missing API token"})
        payload = json.loads(body)
        time.sleep(server.latency_s)
        to = payload["To"]
        if to.startswith("refused"):
            return self._answer(
                422, {"ErrorCode": 300, "Message": f"Invalid 'To' address: '{to}'."}
            )
        headers = {item["Name"].lower(): item["Value"] for item in payload.get("Headers", [])}
        message_id = str(uuid.uuid4())
        server.accept(headers, to)
        self._answer(
            200,
            {
                "To": to,
                "SubmittedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "MessageID": message_id,
                "ErrorCode": 0,
                "Message": "OK",
            },
        )

    def _answer(self, status: int, payload: dict) -> None:
        _answer(self, status, payload)


class _ResendHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format, *args) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        if len(body) < length:
            return  # the client went away mid-request: nothing was asked, nothing is kept
        server: ResendServer = self.server.owner
        if self.path != "/emails":
            return _answer(self, 404, {"name": "not_found", "message": "Not found"})
        if self.headers.get("Authorization") != f"Bearer {server.token}":
            return _answer(self, 401, {"name": "missing_api_key", "message": "Bad API key"})
        key = self.headers.get("Idempotency-Key")
        if key is not None:
            with server.lock:
                seen = server.keys.get(key)
                if seen is None:
                    server.keys[key] = (body, None)  # in progress
            if seen is not None:
                first_body, answer = seen
                if answer is None:
                    return _answer(
                        self,
                        409,
                        {
                            "name": "concurrent_idempotent_requests",
                            "message": "Same idempotency key used while the request is running.",
                        },
                    )
                if first_body != body:
                    return _answer(
                        self,
                        409,
                        {
                            "name": "invalid_idempotent_request",
                            "message": "Same idempotency key used with a different payload.",
                        },
                    )
                server.replayed += 1
                reminder = json.loads(body).get("headers", {}).get("X-Taskgraph-Reminder", 0)
                server.record.replay(int(reminder))
                return _answer(self, 200, answer)
        try:
            answer = self._send(server, key, json.loads(body), body)
        except BaseException:
            if key is not None:  # not sent: the key may be used again, as with Resend
                with server.lock:
                    server.keys.pop(key, None)
            raise
        _answer(self, 200, answer)

    def _send(self, server: "ResendServer", key: str | None, payload: dict, body: bytes) -> dict:
        time.sleep(server.latency_s)
        headers = {name.lower(): value for name, value in payload.get("headers", {}).items()}
        [to] = payload["to"]
        answer = {"id": str(uuid.uuid4())}
        server.accept(headers, to)
        if key is not None:
            with server.lock:
                server.keys[key] = (body, answer)
        return answer


def _answer(handler: BaseHTTPRequestHandler, status: int, payload: dict) -> None:
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class _LoopbackAPI:
    """An HTTP email API on 127.0.0.1, answering every request after ``latency_s``."""

    handler: type[BaseHTTPRequestHandler]
    token = "test-server-token"

    def __init__(self, *, port: int, latency_s: float = 0.02, record: Record | None = None):
        self.port = port
        self.latency_s = latency_s
        self.record = record or Record()
        self.httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def accept(self, headers: dict[str, str], to: str) -> None:
        """Write down an email this API took (``headers`` by lower-case name)."""
        self.record.add(
            Accepted(
                reminder_id=int(headers.get("x-taskgraph-reminder", 0)),
                at=time.time(),
                connection=str(threading.get_ident()),  # the thread of one keep-alive client
                message_id=headers.get("message-id", ""),
                to=to,
            )
        )

    def start(self) -> None:
        ThreadingHTTPServer.request_queue_size = 256  # a burst opens many connections at once
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None


class ResendServer(_LoopbackAPI):
    """Resend's email API, idempotency keys included."""

    handler = _ResendHandler

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lock = threading.Lock()
        self.keys: dict[str, tuple[bytes, dict | None]] = {}
        self.replayed = 0


class PostmarkServer(_LoopbackAPI):
    """Postmark's email API."""

    handler = _PostmarkHandler


def _serve_smtp(port: int, record: Record, idempotency_header: str) -> None:
    from tests.processes import SMTPServer

    server = SMTPServer(port=port)
    server.inbox.idempotency_header = idempotency_header
    server.inbox.headers_only = True

    def accepted(received) -> None:
        server.inbox.received.clear()  # the record keeps what a benchmark needs
        record.add(
            Accepted(
                received.reminder_id,
                received.at,
                str(received.peer),
                received.message["Message-ID"] or "",
                ",".join(received.to),
            )
        )

    server.inbox.on_accept = accepted
    server.inbox.on_replay = record.replay
    server.start()


def main() -> None:
    parser = argparse.ArgumentParser(description="An email provider on loopback.")
    parser.add_argument("kind", choices=["smtp", "postmark", "resend"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument(
        "--idempotency-header", default="", help="smtp: send a message whose key it has seen once"
    )
    args = parser.parse_args()
    record = Record(path=args.record)
    if args.kind in ("postmark", "resend"):
        server = PostmarkServer if args.kind == "postmark" else ResendServer
        server(port=args.port, latency_s=args.latency_ms / 1000, record=record).start()
    else:
        _serve_smtp(args.port, record, args.idempotency_header)
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
