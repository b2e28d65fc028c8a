"""Real local processes the tests start and stop: a private redis-server, an SMTP server on
loopback (aiosmtpd, in a thread), and Dramatiq worker processes. Ports come from 18300-18399."""

import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from pathlib import Path

import redis
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
REDIS_PORTS = range(18300, 18340)
SMTP_PORTS = range(18340, 18380)


def free_port(ports: range) -> int:
    """A port of the range that nothing listens on, tried in random order: parallel test runs
    (and a Redis a chaos test stops for a while) rarely reach for the same one."""
    for port in random.sample(ports, len(ports)):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports}")


def start_runserver(*, port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    """`manage.py runserver` (no autoreloader) on 127.0.0.1:port, its output in ``log``: the
    README's run command, embedded worker and dispatcher included unless env says otherwise."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_until(predicate, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def run_at_once(function, times: int = 2) -> list:
    """Call `function` from `times` threads released together; their results, in any order.

    Each thread closes its own database connection when done.
    """
    from django.db import close_old_connections

    barrier = threading.Barrier(times)
    results = []

    def run():
        try:
            barrier.wait()
            results.append(function())
        finally:
            close_old_connections()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class RedisServer:
    """A redis-server without persistence: restarting it wipes every queue."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        self.port = free_port(REDIS_PORTS)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        if not wait_until(lambda: self._answers(client), 5):
            raise RuntimeError(f"redis-server did not start on port {self.port}")

    def _answers(self, client) -> bool:
        """Ours answers: not another run's server that took the port meanwhile."""
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited: port {self.port} is taken")
        try:
            return client.info("server")["process_id"] == self.process.pid
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def restart_empty(self) -> None:
        self.stop()
        self.start()


@dataclass
class Received:
    reminder_id: int
    to: list[str]
    at: float
    message: Message
    peer: int = 0  # the client's port: one per SMTP connection
    sender: str = ""  # the envelope's MAIL FROM
    content: bytes = b""  # the message as it came over the wire


_PARSERS = {False: BytesParser(), True: BytesHeaderParser()}


@dataclass
class Inbox:
    """SMTP handler: records accepted messages; answers by recipient address.

    refused-*@... -> 550 (permanent); addresses in ``transient`` get that many 451 replies
    first; ``rcpt_delay`` slows every RCPT so a killed client dies before DATA. With an
    ``idempotency_header`` (Resend's SMTP relay reads Resend-Idempotency-Key), a message whose
    key was accepted before is answered 250 again and not delivered twice (``replayed``).
    """

    received: list[Received] = field(default_factory=list)
    transient: dict[str, int] = field(default_factory=dict)
    rcpt_delay: float = 0.0
    on_accept: Callable[[Received], None] | None = None
    # Parse only the headers (a benchmark's provider: it needs the reminder id, and parsing a
    # whole message costs the server about as much CPU as the worker spends sending it).
    headers_only: bool = False
    idempotency_header: str = ""
    on_replay: Callable[[int], None] | None = None
    keys: set[str] = field(default_factory=set)
    replayed: int = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
        if address.startswith("refused"):
            return "550 5.1.1 No such user here"
        if self.transient.get(address, 0) > 0:
            self.transient[address] -= 1
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = _PARSERS[self.headers_only].parsebytes(envelope.content)
        key = message[self.idempotency_header] if self.idempotency_header else None
        if key is not None:
            if key in self.keys:
                self.replayed += 1
                if self.on_replay is not None:
                    self.on_replay(int(message["X-Taskgraph-Reminder"]))
                return "250 Message accepted for delivery"
            self.keys.add(key)
        received = Received(
            int(message["X-Taskgraph-Reminder"]),
            list(envelope.rcpt_tos),
            time.time(),
            message,
            session.peer[1],
            envelope.mail_from,
            envelope.content,
        )
        self.received.append(received)
        if self.on_accept is not None:
            self.on_accept(received)
        return "250 Message accepted for delivery"

    def reminder_ids(self) -> list[int]:
        return sorted(item.reminder_id for item in self.received)

    def connections(self) -> int:
        """How many SMTP connections delivered the received emails."""
        return len({item.peer for item in self.received})

    def reset(self) -> None:
        self.received.clear()
        self.transient.clear()
        self.rcpt_delay = 0.0
        self.idempotency_header = ""
        self.keys.clear()
        self.replayed = 0


class SMTPServer:
    def __init__(self, *, port: int | None = None) -> None:
        self.inbox = Inbox()
        self.port = port or free_port(SMTP_PORTS)
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
        # A stopped controller's loop is closed: the next start needs a new one.
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)


class WorkerProcess:
    """`manage.py rundramatiq` (one worker process) against the given Redis and database."""

    def __init__(
        self, *, env: dict[str, str], log: Path, threads: int = 4, processes: int = 1
    ) -> None:
        self.env = env
        self.log = log
        self.threads = threads
        self.processes = processes
        self.process: subprocess.Popen | None = None

    def start(self, redis_url: str) -> None:
        client = redis.Redis.from_url(redis_url)
        client.delete("dramatiq:__heartbeats__")
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "rundramatiq",
                    "--processes",
                    str(self.processes),
                    "--threads",
                    str(self.threads),
                ],
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # The worker registers its heartbeat once its consumers run.
        started = lambda: client.zcard("dramatiq:__heartbeats__") >= self.processes  # noqa: E731
        if not wait_until(started, 30, 0.05):
            raise RuntimeError(f"worker did not start; see {self.log}:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL the whole process group: the dramatiq master and its worker process."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None

    @contextmanager
    def paused(self) -> Iterator[None]:
        """SIGSTOP the whole process group for the block, SIGCONT after it: a stopped worker
        fetches nothing from Redis. The block starts once every thread of the group is stopped
        (the signal itself only asks the kernel to stop them)."""
        os.killpg(self.process.pid, signal.SIGSTOP)
        try:
            if not wait_until(lambda: _group_stopped(self.process.pid), 5):
                raise RuntimeError(f"worker process group {self.process.pid} did not stop")
            yield
        finally:
            os.killpg(self.process.pid, signal.SIGCONT)


def _group_stopped(pgid: int) -> bool:
    """Every thread of every process in the process group is stopped (T) or dead (Z, X)."""
    for stat in Path("/proc").glob("[0-9]*/task/[0-9]*/stat"):
        try:
            # Fields after the command name, which is in parentheses: state ppid pgrp ...
            state, _ppid, pgrp = stat.read_text().rpartition(")")[2].split()[:3]
        except OSError:
            continue  # the thread ended meanwhile
        if int(pgrp) == pgid and state not in "TtZX":
            return False
    return True


class ManagedProcess:
    """A `manage.py` command in a process group of its own, its output appended to ``log``."""

    def __init__(self, *, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", *self.args],
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.running():
            os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def stop(self) -> None:
        if self.running():
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class Supervisor:
    """Restarts a process that exited, as compose's ``restart: unless-stopped`` or systemd's
    ``Restart=always`` would, and keeps the exit codes it saw."""

    def __init__(self, processes: list[ManagedProcess], interval: float = 0.2) -> None:
        self.processes = processes
        self.interval = interval
        self.exits: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> None:
        for process in self.processes:
            process.start()
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            for process in self.processes:
                if process.process is not None and process.process.poll() is not None:
                    self.exits.append((process.name, process.process.returncode))
                    process.start()

    def all_running(self) -> bool:
        return all(process.running() for process in self.processes)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        for process in self.processes:
            process.stop()
