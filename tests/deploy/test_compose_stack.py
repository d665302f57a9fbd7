"""The compose services' own commands and healthchecks, run as local processes (no Docker engine here).

`docker-compose config` resolves docker-compose.yml with an .env made from .env.example. Then the
migrate, web, worker and beat commands run exactly as resolved, with the environment compose would
give the containers, and only these changes: the hosts `db` and `redis` become this machine's
PostgreSQL (a scratch database) and Redis (a spare database number), port 8000 becomes a free
port, /app becomes a temporary folder, and plain-HTTP access is allowed (there is no TLS proxy).
The web and worker healthchecks must then pass, and a phone's upload must come back as records.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.deploy.test_compose_file import compose_config, filled_env
from tests.support import free_port, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.worker]

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def scratch_database():
    name = f"moodwatch_compose_{os.getpid()}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def local(value: str, *, port: int, app_dir: Path, database: str) -> str:
    return (value.replace("@db:5432/moodwatch", f"@127.0.0.1:5432/{database}")
            .replace("moodwatch:test-password@", "postgres@")  # this PostgreSQL trusts local users
            .replace("redis://redis:6379/0", "redis://127.0.0.1:6379/12")
            .replace("redis://redis:6379/1", "redis://127.0.0.1:6379/13")
            .replace(":8000", f":{port}").replace("/app/", f"{app_dir}/")
            .replace("$$", "$"))  # `config` keeps compose's escape; the engine would pass a single $


def service_env(service: dict, **where) -> dict:
    env = {name: local(str(value), **where) for name, value in service["environment"].items()}
    env.update(PATH=f"{VENV_BIN}:/usr/bin:/bin", HOME=str(where["app_dir"]), HOSTNAME=socket.gethostname(),
               SECURE_SSL_REDIRECT="false")
    return env


def healthcheck(service: dict, env: dict, **where) -> subprocess.CompletedProcess:
    kind, *test = service["healthcheck"]["test"]
    test = [local(word, **where) for word in test]
    if test[-1] == "web":  # web's check probes gunicorn's port, 8000 in the container
        test.append(str(where["port"]))
    command = ["sh", "-c", test[0]] if kind == "CMD-SHELL" else test
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_the_compose_commands_start_pass_their_healthchecks_and_process_an_upload(
    tmp_path, scratch_database, sample_images_dir
):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(ROOT / name, project / name)
    # The enroll throttle counts per address in the shared Redis cache, which other runs on this
    # machine also use: raise it so this test does not depend on them.
    resolved = compose_config(project, filled_env(ENROLL_THROTTLE_RATE="1000/hour"))
    assert resolved.returncode == 0, resolved.stderr
    services = json.loads(resolved.stdout)["services"]
    where = {"port": free_port(), "app_dir": tmp_path / "app", "database": scratch_database}
    (where["app_dir"] / "var").mkdir(parents=True)
    envs = {name: service_env(services[name], **where) for name in ("migrate", "web", "worker", "beat")}

    migrate = subprocess.run([local(w, **where) for w in services["migrate"]["command"]], cwd=ROOT,
                             env=envs["migrate"], capture_output=True, text=True, timeout=300)
    assert migrate.returncode == 0, migrate.stderr[-3000:]

    processes, logs = {}, {}
    try:
        for name in ("web", "worker", "beat"):
            logs[name] = tmp_path / f"{name}.log"
            processes[name] = subprocess.Popen([local(w, **where) for w in services[name]["command"]], cwd=ROOT,
                                               env=envs[name], stdout=logs[name].open("w"), stderr=subprocess.STDOUT)
        web_ok = lambda: healthcheck(services["web"], envs["web"], **where).returncode == 0  # noqa: E731
        wait_until(web_ok, timeout=120, interval=1, what=f"web healthcheck\n{logs['web'].read_text()[-2000:]}")
        worker_ok = lambda: healthcheck(services["worker"], envs["worker"], **where).returncode == 0  # noqa: E731
        wait_until(worker_ok, timeout=180, interval=1, what=f"worker healthcheck\n{logs['worker'].read_text()[-2000:]}")
        wait_until(lambda: (where["app_dir"] / "var" / "celerybeat-schedule").exists()
                   or "beat: Starting" in logs["beat"].read_text(), timeout=60, what="beat to start")
        assert all(p.poll() is None for p in processes.values()), "every service is still running"

        code = upload_through_the_web_service(envs["web"], where, sample_images_dir, tmp_path)
        assert code == 0
        # the worker logs success after the batch's last step (its rollup fold, after the commit)
        wait_until(lambda: "succeeded" in logs["worker"].read_text(), timeout=30,
                   what="the worker service to log that it processed the batch")
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def upload_through_the_web_service(env: dict, where: dict, photos: Path, tmp_path: Path) -> int:
    """A patient and a code made with the operators' commands, then the simulator uploads real photos."""
    def manage(*args):
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout.strip().splitlines()[-1]

    manage("shell", "-c", "from django.contrib.auth.models import User; User.objects.create_user('dr_compose')")
    manage("create_patient", "--ref", "P-COMPOSE", "--clinician", "dr_compose", "--consent",
           "--inference-mode", "frames")
    code = manage("enrollment_code", "--patient", "P-COMPOSE")
    result = subprocess.run(
        [sys.executable, "-m", "clients.simulator", "--server", f"http://127.0.0.1:{where['port']}",
         "--state-dir", str(tmp_path / "phone"), "--code", code, "--images", str(photos), "--no-progress", "--json",
         "--poll-timeout", "180"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    summary = json.loads(result.stdout) if result.stdout.strip() else {}
    # four photos, one of two people: one record a photo (the larger face is the patient's)
    assert summary.get("batches_done") == 1 and summary.get("records_created", 0) == 4, (summary, result.stderr)
    return result.returncode
