"""docker-compose.yml is for users (no Docker engine runs here): check what it promises."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_web_worker_and_scheduler_on_postgresql_and_redis():
    services = compose()["services"]
    assert {"db", "redis", "migrate", "web", "worker", "scheduler"} <= set(services)
    for name in ("migrate", "web", "worker", "scheduler"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://"), name
        assert env["REDIS_URL"].startswith("redis://redis:6379"), name
        assert env["CACHE_URL"] != env["REDIS_URL"], name
        assert env["DEBUG"] == "0", name
        assert "SECRET_KEY" in env, name
    assert services["worker"]["command"][:3] == ["python", "manage.py", "rundramatiq"]
    assert services["web"]["command"][0] == "gunicorn"


def test_compose_redis_keeps_its_data_across_restarts():
    redis = compose()["services"]["redis"]
    assert "--appendonly" in redis["command"]
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert any(volume.endswith(":/data") for volume in redis["volumes"])


def test_compose_app_services_wait_for_migrations():
    services = compose()["services"]
    for name in ("web", "worker", "scheduler"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


def test_dockerfile_serves_the_wsgi_application():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "core.wsgi:application" in dockerfile


def test_dockerfile_installs_the_locked_versions():
    # Given the runtime lock file that `make lock` writes
    lock = (ROOT / "requirements.lock").read_text()
    # Then every requirement in it is pinned with hashes, and the image installs it
    pins = [line for line in lock.splitlines() if line and not line.startswith((" ", "#"))]
    assert pins and all("==" in pin and pin.endswith("\\") for pin in pins)
    assert (
        "pip install --no-cache-dir --require-hashes -r requirements.lock"
        in (ROOT / "Dockerfile").read_text()
    )
