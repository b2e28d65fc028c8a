"""Shared set-up for benchmarks: Django against a throwaway database, timing helpers."""

import json
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def setup_django(sqlite_name: str) -> None:
    """Configure Django on DATABASE_URL if set, else on a fresh SQLite file under bench/results."""
    sys.path.insert(0, str(ROOT))
    RESULTS.mkdir(parents=True, exist_ok=True)
    if "DATABASE_URL" not in os.environ:
        path = RESULTS / sqlite_name
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    else:
        ensure_postgres_database()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def ensure_postgres_database() -> None:
    """Create the PostgreSQL database named by DATABASE_URL if it does not exist yet."""
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(os.environ["DATABASE_URL"])
    if config["ENGINE"] != "django.db.backends.postgresql":
        return
    params = {
        "host": config["HOST"] or "127.0.0.1",
        "port": config["PORT"] or 5432,
        "user": config["USER"] or "postgres",
        "password": config["PASSWORD"] or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**params) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{config["NAME"]}"')


def analyze() -> None:
    """Refresh planner statistics, as a deployed database has them (autovacuum, PRAGMA optimize)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def reset_database() -> None:
    """Migrate, dropping whatever a previous run left (PostgreSQL databases are reused)."""
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)


# A reminder worker as production runs one (DEBUG off: no in-memory log of every SQL query;
# Dramatiq's idle poll at 100 ms as the Dockerfile and `make worker` set it; logs at the
# default INFO, one JSON line per email, into the worker's log file), for benchmarks that send
# thousands of reminders to one owner (no per-user email caps).
REMINDER_WORKER_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "bench-reminder-worker-" + "k" * 50,
    "ALLOWED_HOSTS": "localhost",
    "LOG_LEVEL": "INFO",
    "dramatiq_worker_timeout": "100",
    "REMINDER_EMAILS_PER_HOUR": "0",
    "REMINDER_EMAILS_PER_DAY": "0",
}


def setup_reminder_bench(*, name: str, redis_server) -> None:
    """Django on PostgreSQL (DATABASE_URL, default a ``tg_<name>_bench`` database; worker
    processes need a shared database), wake-ups sent to ``redis_server``, a fresh schema, the
    actors declared on the Redis broker."""
    os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/tg_{name}_bench")
    os.environ["REDIS_URL"] = redis_server.url
    os.environ["LOG_LEVEL"] = "WARNING"
    setup_django(f"{name}.sqlite3")
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit(f"bench/{name}.py needs PostgreSQL: the worker is another process")
    reset_database()
    import jobs.actors  # noqa: F401 - declares the actors on the Redis broker


def summarize(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples_s)
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 3),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 3),
        "min_ms": round(ms[0], 3),
    }


def write_json(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
