"""docker-compose.yml is for users (no Docker engine runs here): check what it promises.

The file is parsed, and every promise that can be checked without Docker is: the commands
exist in this project and accept their arguments, the services that need the database wait
for the migration, every variable is documented, and `check --deploy` accepts the settings
the app services get.
"""

import os
import re
import secrets
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands, load_command_class

ROOT = Path(__file__).resolve().parent.parent
INTERPOLATION = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::?[-?+]([^}]*))?\}")


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def app_services() -> dict:
    """The services built from this project (the rest run published images)."""
    return {name: spec for name, spec in compose()["services"].items() if "build" in spec}


def env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def readme() -> str:
    return (ROOT / "README.md").read_text()


def assert_project_command(argv: list[str], where: str) -> None:
    """`python manage.py <command> args...` names a command of this project that accepts
    those arguments; `gunicorn module:attr` names an object that exists."""
    if argv[0] == "gunicorn":
        module, _, attr = argv[1].partition(":")
        assert hasattr(import_module(module), attr), where
        return
    assert argv[:2] == ["python", "manage.py"], where
    name, args = argv[2], argv[3:]
    commands = get_commands()
    assert name in commands, f"{where}: no management command {name!r}"
    command = load_command_class(commands[name], name)
    command.create_parser("manage.py", name).parse_args(args)


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


def test_every_service_that_needs_the_database_waits_for_the_migration():
    needing = {
        name
        for name, spec in compose()["services"].items()
        if "DATABASE_URL" in spec.get("environment", {}) and name != "migrate"
    }

    assert needing == {"web", "worker", "scheduler"}
    for name in needing:
        depends = compose()["services"][name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["db"] == {"condition": "service_healthy"}, name
    assert compose()["services"]["migrate"]["restart"] == "no"


def test_every_command_and_healthcheck_exists_in_the_project():
    for name, spec in app_services().items():
        assert_project_command(spec["command"], f"{name}.command")
        if "healthcheck" in spec:
            test = spec["healthcheck"]["test"]
            assert test[0] == "CMD", name
            assert_project_command(test[1:], f"{name}.healthcheck")


def test_web_worker_and_scheduler_have_healthchecks():
    services = compose()["services"]
    for name in ("web", "worker", "scheduler"):
        assert services[name]["healthcheck"]["test"] == [
            "CMD",
            "python",
            "manage.py",
            "healthprobe",
            name,
        ], name
    assert services["proxy"]["depends_on"]["web"] == {"condition": "service_healthy"}


def test_a_mail_catcher_receives_the_workers_email_by_default():
    services = compose()["services"]
    assert services["mailpit"]["image"].startswith("axllent/mailpit")
    env = services["worker"]["environment"]
    assert env["EMAIL_PROVIDER"] == "${EMAIL_PROVIDER:-smtp}"
    assert env["EMAIL_HOST"] == "${EMAIL_HOST:-mailpit}"
    assert env["EMAIL_PORT"] == "${EMAIL_PORT:-1025}"


def test_every_variable_compose_uses_is_documented():
    text = (ROOT / "docker-compose.yml").read_text()
    documented = readme()
    example = env_example()
    interpolated = {match.group(1) for match in INTERPOLATION.finditer(text)}
    passed = set()
    for spec in compose()["services"].values():
        passed |= set(spec.get("environment", {}))

    for name in interpolated:
        assert name in example, f"${{{name}}} is not in .env.example"
    for name in interpolated | passed | set(example):
        if name.startswith("POSTGRES_"):
            continue  # the postgres image's own variables, set in the file itself
        assert f"`{name}`" in documented, f"{name} is not in the README's configuration table"


def compose_app_environment() -> dict[str, str]:
    """The environment the web service gets, interpolated the way compose does it with the
    values of .env.example and a fresh secret key."""
    values = {**env_example(), "SECRET_KEY": secrets.token_urlsafe(50)}

    def resolve(value: str) -> str:
        def one(match: re.Match) -> str:
            name, default = match.group(1), match.group(2) or ""
            return values.get(name) or default

        return INTERPOLATION.sub(one, str(value))

    return {
        name: resolve(value) for name, value in compose()["services"]["web"]["environment"].items()
    }


def test_check_deploy_accepts_the_compose_settings(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CACHE_", "SECURE_"))
    }
    env.update(compose_app_environment())
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("target", ["worker", "scheduler"])
def test_make_refuses_to_start_a_separate_process_without_redis(target):
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}

    result = subprocess.run(
        ["make", "--no-print-directory", target], cwd=ROOT, env=env, capture_output=True, text=True
    )

    assert result.returncode == 2
    assert f"make {target}: REDIS_URL is not set." in result.stderr


def test_make_worker_matches_the_readme_and_compose():
    makefile = (ROOT / "Makefile").read_text()
    assert "WORKER_PROCESSES ?= 1" in makefile
    assert "WORKER_THREADS ?= 8" in makefile
    command = "python manage.py rundramatiq --processes 1 --threads 8"
    assert f"`{command}` (`make worker`)" in readme()
    assert " ".join(compose()["services"]["worker"]["command"]) == command


def test_dockerfile_serves_the_wsgi_application():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert '"gunicorn", "core.wsgi:application"' in dockerfile
    assert (ROOT / "gunicorn.conf.py").exists()


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
