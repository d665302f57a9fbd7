"""docker-compose.backup.yml, validated without a Docker engine: the `backup` service runs the app
image plus PostgreSQL's client tools, as the owner, only when run (profile), writing to ./backups."""
import json
import shutil
import subprocess

import dockerfile

from tests.deploy.test_compose_file import ROOT, compose_binary, filled_env, project  # noqa: F401


def test_the_backup_override_runs_db_backup_as_the_owner_and_only_when_asked(project):  # noqa: F811
    shutil.copy(ROOT / "docker-compose.backup.yml", project / "docker-compose.backup.yml")
    (project / ".env").write_text(filled_env())
    base = [str(compose_binary()), "-f", "docker-compose.yml", "-f", "docker-compose.backup.yml"]
    run = {"cwd": project, "capture_output": True, "text": True, "timeout": 60,
           "env": {"PATH": "/usr/bin:/bin", "HOME": str(project)}}
    result = subprocess.run([*base, "--profile", "backup", "config", "--format", "json"], **run)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    backup = services["backup"]
    assert backup["build"]["dockerfile"] == "deploy/backup.Dockerfile"
    assert backup["environment"]["DATABASE_URL"] == services["migrate"]["environment"]["DATABASE_URL"]
    assert backup["environment"]["DATABASE_URL"].startswith("postgres://moodwatch:")
    assert backup["environment"]["PGPASSWORD"] == "test-password"
    assert [v["target"] for v in backup["volumes"]] == ["/backups"]
    assert backup["depends_on"]["db"]["condition"] == "service_healthy"
    assert backup["profiles"] == ["backup"]
    # Without the profile, `up` knows nothing of it.
    result = subprocess.run([*base, "config", "--services"], **run)
    assert result.returncode == 0, result.stderr
    assert "backup" not in result.stdout.split()


def test_the_backup_image_adds_the_postgresql_client_of_the_servers_major_version():
    commands = dockerfile.parse_file(str(ROOT / "deploy" / "backup.Dockerfile"))
    args = {c.value[0].split("=")[0]: c.value[0].split("=")[1] for c in commands if c.cmd == "ARG"}
    assert args["POSTGRES_MAJOR"] == "16"
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "postgres:16-" in compose, "the db service's major version: keep POSTGRES_MAJOR in step"
    runs = " ".join(" ".join(c.value) for c in commands if c.cmd == "RUN")
    assert "postgresql-client-${POSTGRES_MAJOR}" in runs
    users = [c.value[0] for c in commands if c.cmd == "USER"]
    assert users[-1] == "moodwatch", "it runs as the app's unprivileged user"
