"""A real server process, a real browser (Debian's chromium through Playwright), and a static
page on another origin standing in for a single-page app.

The server is gunicorn with DEBUG=0 on its own SQLite file, serving the collected static files
through WhiteNoise: what production runs. Screenshots go to tests/artifacts/ (gitignored; CI
keeps them).
"""

import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.processes import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "tests" / "artifacts"
SPA = Path(__file__).resolve().parent / "spa"
WEB_PORTS = range(18400, 18440)


@dataclass
class Server:
    url: str
    log: Path
    process: subprocess.Popen = field(repr=False)


def _run(args: list[str], env: dict[str, str], log: Path) -> None:
    with open(log, "ab") as out:
        subprocess.run(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, check=True)


@pytest.fixture(scope="session")
def spa_origin() -> Iterator[str]:
    """http://127.0.0.1:<port>: the folder tests/browser/spa/ served by a static file server."""
    port = free_port(WEB_PORTS)
    handler = functools.partial(QuietHandler, directory=str(SPA))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:
        pass


@pytest.fixture(scope="session")
def server(spa_origin) -> Iterator[Server]:
    """gunicorn with production settings (DEBUG=0) over plain HTTP on loopback."""
    workdir = Path(tempfile.mkdtemp(prefix="taskgraph-browser-"))
    log = workdir / "server.log"
    port = free_port(WEB_PORTS)
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "browser-tests-only-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "STATIC_ROOT": str(workdir / "static"),
        "GRAPHQL_GRAPHIQL": "1",
        "GRAPHQL_INTROSPECTION": "1",
        "CORS_ALLOWED_ORIGINS": spa_origin,
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "REMINDERS_EMBEDDED": "0",
        "THROTTLE_REGISTRATIONS": "1000",
        "EMAIL_PROVIDER": "console",
    }
    for name in ("REDIS_URL", "CACHE_URL"):
        env.pop(name, None)
    _run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env, log)
    _run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], env, log)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "core.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                "4",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until(lambda: _answers(f"{url}/health/"), 30, 0.1):
            raise RuntimeError(f"the server did not start:\n{log.read_text()}")
        yield Server(url=url, log=log, process=process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        skip_or_fail(f"no browser at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("the playwright package is not installed")
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
    yield browser
    browser.close()
    playwright.stop()


@dataclass
class BrowserPage:
    """A Playwright page with everything it asked the network for and said on its console."""

    page: object
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


@pytest.fixture
def page(browser, request) -> Iterator[BrowserPage]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    seen = BrowserPage(page=page)
    page.on("request", lambda r: seen.requests.append(r.url))
    page.on("console", lambda m: seen.console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: seen.console.append(f"pageerror: {e}"))
    yield seen
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    context.close()
