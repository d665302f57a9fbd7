"""Backups of the application's PostgreSQL database, and restores of them, each checked against a manifest.

A backup is two files: the dump at PATH (`pg_dump --format=custom`) and its manifest beside it at
PATH.manifest.json: the row count of every table, the dump's size and SHA-256, the migrations
applied, the mood model's version, when, and which pg_dump made it.

Consistency: the counts and the dump are read from one snapshot. A REPEATABLE READ transaction
exports its snapshot (pg_export_snapshot), counts the rows, and pg_dump --snapshot dumps exactly
what that transaction sees while it stays open; batches landing meanwhile are in neither.

The backup's own audit row is written after the dump, in a transaction of its own, so it is not
in this dump (it is in the next) and the manifest's audit count is the dump's. It carries the
dump's SHA-256, which is only known then.

A restore checks the dump's size and SHA-256 against the manifest before anything else, refuses a
target database that has any table in its public schema, restores with
`pg_restore --exit-on-error --single-transaction` (an error anywhere restores nothing), then
counts every table of the manifest in the target. Only then does it write its audit row, into the
restored database (the one whose history it becomes; the old one may be gone): the target holds
the manifest's audit rows plus that one.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import environ
import psycopg
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from psycopg import sql

from backend.audit.models import AuditAction
from backend.audit.services import AuditContext, audit_record
from inference.errors import InferenceError
from inference.estimator import model_identity

MANIFEST_FORMAT = "moodwatch-backup/1"
MANIFEST_SUFFIX = ".manifest.json"
# The table names a manifest may list: what Django's migrations create (PostgreSQL's 63-byte limit).
TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# libpq connection keywords Django's OPTIONS (or a URL's query) may carry, handed on to pg_dump/pg_restore.
LIBPQ_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "connect_timeout", "options",
                 "target_session_attrs", "application_name")
SQLITE_REFUSAL = (
    "db_backup and db_restore are for PostgreSQL; this process uses the embedded SQLite database "
    "(`make run`'s development default), which is one file: stop the server and copy it, or run "
    "`sqlite3 var/db.sqlite3 \".backup 'PATH'\"` while it runs."
)


class BackupError(Exception):
    """A backup or restore refused or failed. The message says why; nothing was overwritten, and a
    refused or failed restore left the target as it was."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest_path: Path
    manifest: dict
    seconds: float


@dataclass(frozen=True)
class RestoreResult:
    target: str  # user@host:port/name, never the password
    manifest: dict
    counts: dict[str, int]  # the target's rows per table of the manifest, counted after the restore
    pending_migrations: list[str]  # this code's migrations the restored database has not applied
    seconds: float


def manifest_path_for(dump: Path) -> Path:
    return dump.with_name(dump.name + MANIFEST_SUFFIX)


# --- connections and client tools ----------------------------------------------------------------------

def _libpq_params(db: dict) -> dict[str, str]:
    """A Django database settings dict (or django-environ's parse of a URL) as libpq keywords, no password."""
    params = {"dbname": db.get("NAME"), "user": db.get("USER"), "host": db.get("HOST"), "port": db.get("PORT")}
    options = db.get("OPTIONS") or {}
    params.update({key: options[key] for key in LIBPQ_OPTIONS if key in options})
    return {key: str(value) for key, value in params.items() if value not in (None, "")}


def _describe(db: dict) -> str:
    user, host, port = db.get("USER") or "(default user)", db.get("HOST") or "localhost", db.get("PORT") or 5432
    return f"{user}@{host}:{port}/{db.get('NAME')}"


def _client_env(db: dict) -> dict[str, str]:
    """The environment of pg_dump/pg_restore: the password travels as PGPASSWORD, never on a command line."""
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return env


def _connect(db: dict, **kwargs) -> psycopg.Connection:
    try:
        return psycopg.connect(**_libpq_params(db), **({"password": db["PASSWORD"]} if db.get("PASSWORD") else {}),
                               **kwargs)
    except psycopg.Error as error:
        raise BackupError(f"cannot connect to the database {_describe(db)}: {str(error).strip()}")


def _client(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} not found on PATH: install PostgreSQL's client tools (Debian: postgresql-client), "
                          "of the server's major version or newer; docs/operations.md says how in the stack.")
    return path


def _client_version(binary: str) -> str:
    return subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout.strip()


def _tail(text: str, limit: int = 2000) -> str:
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def _table_counts(conn: psycopg.Connection, tables: list[str] | None = None) -> dict[str, int]:
    """Rows of each table of the public schema (or of `tables`), as this connection's transaction sees them."""
    if tables is None:
        tables = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
    return {table: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("public", table)))
            .fetchone()[0] for table in tables}


def _public_tables(conn: psycopg.Connection) -> list[str]:
    return [row[0] for row in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _serving_model() -> dict:
    try:
        version, sha256 = model_identity(settings.MOODWATCH["MODEL_PATH"] or None)
    except (InferenceError, OSError, ValueError) as error:
        return {"error": str(error)}
    return {"version": version, "sha256": sha256}


# --- backup --------------------------------------------------------------------------------------------

def backup_create(*, out: Path, actor: AbstractBaseUser | None, context: AuditContext | None = None) -> BackupResult:
    """Dump the application's database to `out` (custom format) with its manifest beside it; audited."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        raise BackupError(SQLITE_REFUSAL)
    out = Path(out).absolute()
    manifest_path = manifest_path_for(out)
    for path in (out, manifest_path):
        if path.exists() or path.is_symlink():
            raise BackupError(f"{path} exists: a backup never overwrites a file; give a new path.")
    if not out.parent.is_dir():
        raise BackupError(f"no such directory: {out.parent}")
    pg_dump = _client("pg_dump")
    db = connection.settings_dict
    started = time.monotonic()
    created_at = timezone.now()
    partial_dump = partial_manifest = None
    try:
        fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
        os.close(fd)
        partial_dump = Path(name)
        with _connect(db) as snap:
            snap.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snapshot = snap.execute("SELECT pg_export_snapshot()").fetchone()[0]
            counts = _table_counts(snap)
            migrations = [[app, name] for app, name in snap.execute(
                "SELECT app, name FROM django_migrations ORDER BY id")] if "django_migrations" in counts else []
            record_versions = dict(snap.execute(
                "SELECT model_version, count(*) FROM moods_moodrecord GROUP BY model_version ORDER BY model_version"
            ).fetchall()) if "moods_moodrecord" in counts else {}
            server_version = snap.execute("SHOW server_version").fetchone()[0]
            # pg_dump reads the same snapshot while this transaction holds it open.
            dumped = subprocess.run(
                [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={partial_dump}", "--no-password",
                 f"--dbname={psycopg.conninfo.make_conninfo(**_libpq_params(db))}"],
                env=_client_env(db), capture_output=True, text=True, check=False,
            )
            snap.rollback()
        if dumped.returncode != 0:
            raise BackupError(f"pg_dump failed (exit {dumped.returncode}): {_tail(dumped.stderr)}")
        manifest = {
            "format": MANIFEST_FORMAT,
            "created_at": created_at.isoformat(),
            "database": db["NAME"],
            "server_version": server_version,
            "pg_dump_version": _client_version(pg_dump),
            "dump": {"file": out.name, "format": "custom", "bytes": partial_dump.stat().st_size,
                     "sha256": _sha256(partial_dump)},
            "tables": counts,
            "migrations": migrations,
            "model": {"serving": _serving_model(), "record_versions": record_versions},
        }
        fd, name = tempfile.mkstemp(prefix=f".{manifest_path.name}.", suffix=".partial", dir=out.parent)
        partial_manifest = Path(name)
        with os.fdopen(fd, "w") as f:
            json.dump(manifest, f, indent=2, sort_keys=True)
            f.write("\n")
        _publish(partial_dump, out)
        try:
            _publish(partial_manifest, manifest_path)
        except BackupError:
            out.unlink()
            raise
    finally:
        for path in (partial_dump, partial_manifest):
            if path is not None:
                path.unlink(missing_ok=True)
    audit_record(action=AuditAction.DB_BACKUP, actor=actor, context=context, detail={
        "file": str(out), "bytes": manifest["dump"]["bytes"], "sha256": manifest["dump"]["sha256"],
        "tables": len(counts), "rows": sum(counts.values()), "created_at": manifest["created_at"],
    })
    return BackupResult(path=out, manifest_path=manifest_path, manifest=manifest, seconds=time.monotonic() - started)


def _publish(partial: Path, final: Path) -> None:
    """Give the finished file its name, unless something took that name meanwhile (never overwrites)."""
    try:
        try:
            os.link(partial, final)
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links (some network shares): an exclusive copy
            with open(final, "xb") as target, open(partial, "rb") as source:
                os.chmod(final, 0o600)
                shutil.copyfileobj(source, target, 1 << 20)
    except FileExistsError:
        raise BackupError(f"{final} exists: a backup never overwrites a file; give a new path.")


# --- restore -------------------------------------------------------------------------------------------

def backup_verify(*, dump: Path) -> dict:
    """The dump's manifest, once the dump's size and SHA-256 match it; a BackupError otherwise."""
    dump = Path(dump)
    if not dump.is_file():
        raise BackupError(f"no dump at {dump}")
    manifest_path = manifest_path_for(dump)
    if not manifest_path.is_file():
        raise BackupError(f"no manifest at {manifest_path}: without it the dump cannot be checked, and an "
                          "unchecked dump is never restored.")
    try:
        manifest = json.loads(manifest_path.read_text())
        expected_bytes, expected_sha = int(manifest["dump"]["bytes"]), str(manifest["dump"]["sha256"])
        tables = {str(table): int(rows) for table, rows in manifest["tables"].items()}
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError) as error:
        raise BackupError(f"the manifest {manifest_path} is unreadable ({type(error).__name__}).")
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise BackupError(f"the manifest {manifest_path} is not a {MANIFEST_FORMAT} manifest.")
    strange = [table for table, rows in tables.items() if not TABLE_NAME.fullmatch(table) or not 0 <= rows < 2**63]
    if strange or not tables:
        raise BackupError(f"the manifest {manifest_path} lists no tables, or a table name or count that pg_dump "
                          f"never writes ({len(strange)} of them).")
    manifest["tables"] = tables
    size = dump.stat().st_size
    if size != expected_bytes:
        raise BackupError(f"the dump {dump} is {size} bytes, its manifest says {expected_bytes}: "
                          "the file is truncated or corrupted; nothing was restored.")
    actual_sha = _sha256(dump)
    if actual_sha != expected_sha:
        raise BackupError(f"the dump's SHA-256 {actual_sha} differs from its manifest's {expected_sha}: "
                          "the file is corrupted; nothing was restored.")
    return manifest


def _url_config(database_url: str) -> dict:
    try:
        config = environ.Env.db_url_config(database_url)
    except Exception as error:  # django-environ raises assorted errors on a malformed URL
        raise BackupError(f"not a database URL ({type(error).__name__}).")
    if config.get("ENGINE") != "django.db.backends.postgresql" or not config.get("NAME"):
        raise BackupError("the target must be a PostgreSQL database URL: postgres://USER@HOST:PORT/NAME "
                          "(the password from PGPASSWORD or ~/.pgpass rather than the command line).")
    return config


def backup_restore(*, dump: Path, database_url: str, actor_username: str | None = None,
                   context: AuditContext | None = None) -> RestoreResult:
    """Restore a checked dump into the empty database at `database_url`; check its counts; audited there."""
    started = time.monotonic()
    manifest = backup_verify(dump=dump)
    target = _url_config(database_url)
    pg_restore = _client("pg_restore")
    with _connect(target, autocommit=True) as conn:
        present = _public_tables(conn)
    if present:
        shown = ", ".join(present[:5]) + (", ..." if len(present) > 5 else "")
        raise BackupError(f"the target database {_describe(target)} is not empty ({len(present)} tables in its "
                          f"public schema: {shown}): a restore goes only into an empty database (createdb a new one).")
    # --no-owner/--no-privileges: the restoring role owns what it restores, on any server; run
    # `manage.py db_app_role` afterwards for the app's restricted role (docs/operations.md).
    restored = subprocess.run(
        [pg_restore, "--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges", "--no-password",
         f"--dbname={psycopg.conninfo.make_conninfo(**_libpq_params(target))}", str(Path(dump).absolute())],
        env=_client_env(target), capture_output=True, text=True, check=False,
    )
    if restored.returncode != 0:
        raise BackupError(f"pg_restore failed (exit {restored.returncode}); it ran as one transaction, so nothing "
                          f"was restored: {_tail(restored.stderr)}")
    with _connect(target, autocommit=True) as conn:
        missing = sorted(set(manifest["tables"]) - set(_public_tables(conn)))
        counts = _table_counts(conn, [t for t in manifest["tables"] if t not in missing])
    differ = {table: (rows, counts.get(table)) for table, rows in manifest["tables"].items()
              if counts.get(table) != rows}
    if differ:
        shown = "; ".join(f"{t}: manifest {want}, restored {got}" for t, (want, got) in sorted(differ.items())[:10])
        raise BackupError(f"the restored database {_describe(target)} does not match the manifest ({shown}); "
                          "drop it and do not use it.")
    pending = _restored_record(target=target, manifest=manifest, dump=Path(dump), counts=counts,
                               actor_username=actor_username, context=context)
    return RestoreResult(target=_describe(target), manifest=manifest, counts=counts, pending_migrations=pending,
                         seconds=time.monotonic() - started)


def _restored_record(*, target: dict, manifest: dict, dump: Path, counts: dict, actor_username: str | None,
                     context: AuditContext | None) -> list[str]:
    """The restore's audit row, in the restored database, through a Django connection opened on it for
    this; returns this code's migrations the restored database lacks."""
    alias = f"restore-{uuid.uuid4().hex[:8]}"
    config = connections.configure_settings({DEFAULT_DB_ALIAS: {**target, "CONN_MAX_AGE": 0}})[DEFAULT_DB_ALIAS]
    connections.settings[alias] = config
    try:
        restored = connections[alias]
        actor = None
        if actor_username:
            actor = get_user_model().objects.using(alias).filter(username=actor_username, is_active=True).first()
        executor = MigrationExecutor(restored)
        pending = [f"{m.app_label}.{m.name}" for m, _ in executor.migration_plan(executor.loader.graph.leaf_nodes())]
        detail = {"file": str(dump.absolute()), "sha256": manifest["dump"]["sha256"],
                  "backup_created_at": manifest.get("created_at"), "tables": len(counts),
                  "rows": sum(counts.values())}
        if actor_username and actor is None:
            detail["actor_not_found"] = actor_username
        audit_record(action=AuditAction.DB_RESTORE, actor=actor, context=context, detail=detail, using=alias)
        return pending
    finally:
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]
