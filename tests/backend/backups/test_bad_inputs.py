"""db_backup and db_restore refuse what they must, with a clear message and a non-zero exit, and
leave nothing behind: no file overwritten, no target half-restored.

The commands run as an operator runs them (manage.py in a process of its own), so the exit codes
and messages are the real ones."""
import hashlib
import json
import shutil

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from backend.audit.models import AuditAction, AuditEvent
from tests.backend.backups.conftest import manage, public_tables, server_url

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="backups are PostgreSQL's")


@pytest.fixture
def backup(tmp_path, transactional_db):
    """A good backup of the test database: the dump and its manifest."""
    dump = tmp_path / "good.dump"
    result = manage("db_backup", "--out", str(dump))
    assert result.returncode == 0, result.stderr
    return dump


def copy_of(dump, tmp_path, name):
    """A copy of the backup (dump and manifest) under another name, to damage."""
    copy = tmp_path / name
    shutil.copy(dump, copy)
    shutil.copy(f"{dump}.manifest.json", f"{copy}.manifest.json")
    return copy


def refused(result, *phrases):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr
    return result.stderr


# --- backup ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("existing", ["dump", "manifest"])
def test_a_backup_refuses_a_path_that_exists_and_overwrites_nothing(tmp_path, transactional_db, existing):
    dump = tmp_path / "monday.dump"
    taken = dump if existing == "dump" else tmp_path / "monday.dump.manifest.json"
    taken.write_bytes(b"last week's backup")
    refused(manage("db_backup", "--out", str(dump)), "exists", "never overwrites")
    assert taken.read_bytes() == b"last week's backup"
    assert sorted(p.name for p in tmp_path.iterdir()) == [taken.name], "no partial file left"
    assert not AuditEvent.objects.filter(action=AuditAction.DB_BACKUP).exists()


def test_a_backup_refuses_a_directory_that_does_not_exist(tmp_path, transactional_db):
    refused(manage("db_backup", "--out", str(tmp_path / "no" / "such" / "x.dump")), "no such directory")


def test_a_backup_refuses_a_nul_in_the_path(transactional_db):
    # a command line cannot carry a NUL character: the command is called in-process
    with pytest.raises(CommandError, match="NUL"):
        call_command("db_backup", "--out", "/tmp/a\x00b")


def test_a_backup_on_the_embedded_sqlite_database_is_refused_with_what_to_do_instead(tmp_path):
    stderr = refused(manage("db_backup", "--out", str(tmp_path / "x.dump"),
                            database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}"), "PostgreSQL", "SQLite")
    assert ".backup" in stderr
    assert not (tmp_path / "x.dump").exists()


# --- restore ---------------------------------------------------------------------------------------

def test_a_restore_into_a_database_with_tables_is_refused_and_leaves_it_alone(backup, fresh_database):
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE precious (id int)")
        conn.execute("INSERT INTO precious VALUES (1), (2)")
    refused(manage("db_restore", str(backup), "--database-url", fresh_database), "not empty", "precious")
    assert public_tables(fresh_database) == ["precious"]


def test_a_restore_into_the_live_database_itself_is_refused(backup):
    before = AuditEvent.objects.count()
    refused(manage("db_restore", str(backup), "--database-url",
                   f"{server_url()}/{connection.settings_dict['NAME']}"), "not empty", "audit_auditevent")
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("where", [0.5, 0.9])
def test_a_dump_with_one_byte_flipped_is_refused_before_anything_is_restored(backup, tmp_path, fresh_database,
                                                                             where):
    bad = copy_of(backup, tmp_path, "flipped.dump")
    data = bytearray(bad.read_bytes())
    data[int(len(data) * where)] ^= 0x01
    bad.write_bytes(bytes(data))
    refused(manage("db_restore", str(bad), "--database-url", fresh_database), "SHA-256", "corrupted",
            "nothing was restored")
    assert public_tables(fresh_database) == []


def test_a_truncated_dump_is_refused_before_anything_is_restored(backup, tmp_path, fresh_database):
    bad = copy_of(backup, tmp_path, "truncated.dump")
    bad.write_bytes(bad.read_bytes()[:-4096])
    refused(manage("db_restore", str(bad), "--database-url", fresh_database), "truncated", "nothing was restored")
    assert public_tables(fresh_database) == []


def test_a_dump_damaged_after_its_manifest_was_made_fails_in_pg_restore_and_restores_nothing(
        backup, tmp_path, fresh_database):
    """Even a damaged dump whose manifest was rewritten to match it (so the SHA-256 check passes)
    restores nothing: pg_restore runs as one transaction and stops at the first error."""
    bad = copy_of(backup, tmp_path, "rewritten.dump")
    bad.write_bytes(bad.read_bytes()[: int(bad.stat().st_size * 0.7)])
    manifest_path = tmp_path / "rewritten.dump.manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["dump"].update(bytes=bad.stat().st_size, sha256=hashlib.sha256(bad.read_bytes()).hexdigest())
    manifest_path.write_text(json.dumps(manifest))
    refused(manage("db_restore", str(bad), "--database-url", fresh_database), "pg_restore failed",
            "nothing was restored")
    assert public_tables(fresh_database) == [], "the single transaction left no table behind"


def test_a_dump_without_its_manifest_is_refused(backup, tmp_path, fresh_database):
    bare = tmp_path / "bare.dump"
    shutil.copy(backup, bare)
    refused(manage("db_restore", str(bare), "--database-url", fresh_database), "no manifest", "never restored")
    assert public_tables(fresh_database) == []


@pytest.mark.parametrize("content", ["", "{", "[]", '{"format": "moodwatch-backup/1"}', '{"dump": 5}',
                                     '{"format": "other", "dump": {"bytes": 1, "sha256": "x"}, "tables": {}}'])
def test_an_unreadable_manifest_is_refused(backup, tmp_path, fresh_database, content):
    bad = copy_of(backup, tmp_path, "badmanifest.dump")
    (tmp_path / "badmanifest.dump.manifest.json").write_text(content)
    refused(manage("db_restore", str(bad), "--database-url", fresh_database), "manifest")
    assert public_tables(fresh_database) == []


def edited_manifest(backup, tmp_path, name, edit):
    """A copy of the backup whose manifest `edit` changed (the dump and its SHA-256 untouched)."""
    copy = copy_of(backup, tmp_path, name)
    manifest_path = tmp_path / f"{name}.manifest.json"
    manifest = json.loads(manifest_path.read_text())
    edit(manifest)
    manifest_path.write_text(json.dumps(manifest))
    return copy


@pytest.mark.parametrize("tables", [
    {}, {"audit_auditevent": -1}, {"audit\x00event": 0}, {'x"; DROP TABLE audit_auditevent; --': 0},
    {"Patients": 0}, {"a" * 64: 0}, {"audit_auditevent": 10**400}, {"audit_auditevent": "many"},
    {"audit_auditevent": None}, {"audit_auditevent": [1]}, [["audit_auditevent", 1]],
])
def test_a_manifest_with_strange_tables_or_counts_is_refused_before_restoring(backup, tmp_path, fresh_database,
                                                                              tables):
    bad = edited_manifest(backup, tmp_path, "strange.dump", lambda m: m.update(tables=tables))
    refused(manage("db_restore", str(bad), "--database-url", fresh_database), "manifest")
    assert public_tables(fresh_database) == []


@pytest.mark.parametrize("content", ["[" * 100_000 + "]" * 100_000, '{"format": NaN}',
                                     '{"format": "moodwatch-backup/1", "dump": {"bytes": 1e400, "sha256": "x"}, '
                                     '"tables": {"a": 1}}'])
def test_an_adversarial_manifest_is_refused(backup, tmp_path, fresh_database, content):
    bad = copy_of(backup, tmp_path, "adversarial.dump")
    (tmp_path / "adversarial.dump.manifest.json").write_text(content)
    refused(manage("db_restore", str(bad), "--database-url", fresh_database), "manifest")
    assert public_tables(fresh_database) == []


def test_counts_that_differ_from_the_manifest_fail_the_restore_loudly(backup, tmp_path, fresh_database):
    """A manifest edited to claim more rows than the dump holds (its SHA-256 covers the dump, not
    the manifest): the restore runs, the count check catches it, the command fails and says so."""
    bad = edited_manifest(backup, tmp_path, "edited.dump",
                          lambda m: m["tables"].update(django_migrations=m["tables"]["django_migrations"] + 1))
    stderr = refused(manage("db_restore", str(bad), "--database-url", fresh_database), "does not match the manifest",
                     "django_migrations")
    assert "do not use it" in stderr
    with psycopg.connect(fresh_database) as conn:
        assert not conn.execute("SELECT count(*) FROM audit_auditevent WHERE action = 'db.restore'").fetchone()[0]


def test_a_missing_dump_is_refused(tmp_path, fresh_database):
    refused(manage("db_restore", str(tmp_path / "nothing.dump"), "--database-url", fresh_database), "no dump at")


@pytest.mark.parametrize(("url", "phrase"), [
    ("mysql://root@127.0.0.1:3306/moodwatch", "PostgreSQL database URL"),
    ("sqlite:////tmp/x.sqlite3", "PostgreSQL database URL"),
    ("not a url", "PostgreSQL database URL"),
    ("postgres://postgres:s3cret-pw@127.0.0.1:5432/moodwatch_no_such_database", "cannot connect"),
    ("postgres://postgres:s3cret-pw@127.0.0.1:1/moodwatch", "cannot connect"),
])
def test_a_wrong_database_url_is_refused_without_showing_its_password(backup, url, phrase):
    stderr = refused(manage("db_restore", str(backup), "--database-url", url), phrase)
    assert "s3cret-pw" not in stderr


def test_a_good_backup_restores_and_the_restore_is_audited_in_the_restored_database(backup, fresh_database):
    """The counterpart of the refusals above: the same backup, untouched, restores."""
    result = manage("db_restore", str(backup), "--database-url", fresh_database)
    assert result.returncode == 0, result.stderr
    assert "every count as in the manifest" in result.stdout
    with psycopg.connect(fresh_database) as conn:
        rows = conn.execute("SELECT action, actor_username, channel, detail->>'sha256' FROM audit_auditevent"
                            " WHERE action = 'db.restore'").fetchall()
    sha = json.loads((backup.parent / "good.dump.manifest.json").read_text())["dump"]["sha256"]
    assert rows == [("db.restore", "system", "command", sha)]
