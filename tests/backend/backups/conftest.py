"""Scratch databases for restores, and running manage.py as an operator does."""
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[3]


def server_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"


def source_url() -> str:
    """The test database (pytest-django's), as a URL."""
    return f"{server_url()}/{connection.settings_dict['NAME']}"


def admin(statement: str) -> None:
    with psycopg.connect(f"{server_url()}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def public_tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]


@pytest.fixture
def fresh_database(django_db_setup):
    """A new, empty database on the test server (a unique name), dropped afterwards: its URL."""
    if connection.vendor != "postgresql":
        pytest.skip("backups are PostgreSQL's")
    name = f"{connection.settings_dict['NAME']}_restore_{uuid.uuid4().hex[:8]}"
    admin(f'CREATE DATABASE "{name}"')
    yield f"{server_url()}/{name}"
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(*args: str, database_url: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python manage.py ...` in a process of its own, on the test database unless told otherwise."""
    env = {**os.environ, "DATABASE_URL": database_url or source_url(),
           "DJANGO_ENV": os.environ.get("DJANGO_ENV", "test")}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
