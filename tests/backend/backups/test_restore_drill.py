"""The restore drill, on the real PostgreSQL: back up while batches are landing, restore into a fresh
database, start the app on it, and find there every patient, record, alert and audit row of the
manifest, with the audit log still append-only.

Batches land through the real services (validation, batch_ingest, and, with eager tasks, the
processing by the mood model, the roll-ups and the alert evaluation that follow) from a thread of
their own, committed, while the backup runs in this one."""
import io
import json
import threading

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from backend.alerts.models import Alert
from backend.audit.models import AuditAction, AuditEvent
from backend.audit.services import audit_record, patient_page_view_record
from backend.ingest.models import FrameBatch
from backend.moods.models import MoodRecord
from backend.patients.models import Patient
from tests.backend.backups.conftest import manage
from tests.backend.conftest import ingest
from tests.backend.factories import add_records
from tests.support import wait_until

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="backups are PostgreSQL's")

# Run by `manage.py shell` on the restored database: the app's own models read it.
READ_BACK = """
import json
from backend.alerts.models import Alert
from backend.audit.models import AuditEvent
from backend.ingest.models import FrameBatch
from backend.moods.models import MoodRecord
from backend.patients.models import Patient
from django.db.models import Sum
print(json.dumps({
    "patients": sorted(str(pk) for pk in Patient.objects.values_list("pk", flat=True)),
    "records": sorted(MoodRecord.objects.values_list("pk", flat=True)),
    "alerts": sorted(Alert.objects.values_list("pk", flat=True)),
    "audit": sorted([e.pk, e.action, e.at.isoformat()] for e in AuditEvent.objects.all()),
    "done_batches_record_count": FrameBatch.objects.filter(status="done").aggregate(n=Sum("record_count"))["n"],
}))
"""


class Landing(threading.Thread):
    """Uploads one-frame batches from the given devices, one after another, until stopped."""

    def __init__(self, devices, frame: bytes):
        super().__init__(daemon=True)
        self.devices, self.frame = devices, frame
        self.stopping = threading.Event()
        self.landed = 0
        self.error: BaseException | None = None

    def run(self):
        try:
            while not self.stopping.is_set():
                for device in self.devices:
                    ingest(device, [self.frame])
                    self.landed += 1
        except BaseException as error:  # reported by the test
            self.error = error
        finally:
            connection.close()


@pytest.mark.django_db(transaction=True)
def test_restore_drill(tmp_path, fresh_database, eager_tasks, clinician, patient, other_patient, device,
                       other_device, face_jpeg):
    # History: records, an alert, audit rows, committed before the drill.
    add_records(patient, timezone.now() - timezone.timedelta(days=1), "negative", 5)
    add_records(other_patient, timezone.now() - timezone.timedelta(hours=3), "positive", 3)
    now = timezone.now()
    Alert.objects.create(patient=other_patient, kind=Alert.Kind.NO_DATA, raised_at=now, evaluated_at=now)
    patient_page_view_record(actor=clinician, patient=patient, page="manage")
    audit_record(action=AuditAction.PATIENT_LIST, actor=clinician, detail={"patients": 2})

    landing = Landing([device, other_device], face_jpeg)
    landing.start()
    try:
        wait_until(lambda: landing.landed >= 2 or landing.error, timeout=120, what="the first batches to land")
        assert landing.error is None, landing.error
        landed_before = landing.landed
        out = io.StringIO()
        call_command("db_backup", "--out", str(tmp_path / "drill.dump"), stdout=out)
        landed_during = landing.landed - landed_before
        print(f"drill: {landed_before} batches landed before the backup, {landed_during} during it")
        wait_until(lambda: landing.landed >= landed_before + landed_during + 2 or landing.error, timeout=120,
                   what="batches to keep landing after the backup")
    finally:
        landing.stopping.set()
        landing.join(timeout=120)
    assert landing.error is None, landing.error
    assert not landing.is_alive()

    manifest = json.loads((tmp_path / "drill.dump.manifest.json").read_text())
    tables = manifest["tables"]
    # The snapshot fell between batches: some landed before it, more after it.
    assert 8 < tables["moods_moodrecord"] < MoodRecord.objects.count()
    assert tables["ingest_framebatch"] < FrameBatch.objects.count()
    assert tables["patients_patient"] == Patient.objects.count() == 2
    # The backup's audit row comes after its snapshot: in the live log, not in its own dump.
    backup_row = AuditEvent.objects.get(action=AuditAction.DB_BACKUP)
    assert backup_row.detail["sha256"] == manifest["dump"]["sha256"]
    assert tables["audit_auditevent"] < AuditEvent.objects.count()
    assert manifest["migrations"] and manifest["model"]["serving"]["version"]
    assert manifest["pg_dump_version"].startswith("pg_dump (PostgreSQL)")

    # As an operator restores: manage.py in a process of its own.
    result = manage("db_restore", str(tmp_path / "drill.dump"), "--database-url", fresh_database)
    assert result.returncode == 0, result.stderr
    assert "every count as in the manifest" in result.stdout

    # Start the app on the restored database: its checks pass, no migration is missing, its models read it.
    for command in (("check", "--database", "default"), ("migrate", "--check", "--noinput")):
        result = manage(*command, database_url=fresh_database)
        assert result.returncode == 0, result.stdout + result.stderr
    result = manage("shell", "-c", READ_BACK, database_url=fresh_database)
    assert result.returncode == 0, result.stderr
    restored = json.loads(result.stdout.strip().splitlines()[-1])

    # Every patient, record, alert and audit row of the manifest is there, and nothing else.
    assert len(restored["patients"]) == tables["patients_patient"]
    assert set(restored["patients"]) == {str(pk) for pk in Patient.objects.values_list("pk", flat=True)}
    assert len(restored["records"]) == tables["moods_moodrecord"]
    assert set(restored["records"]) <= set(MoodRecord.objects.values_list("pk", flat=True))
    assert len(restored["alerts"]) == tables["alerts_alert"]
    assert set(restored["alerts"]) <= set(Alert.objects.values_list("pk", flat=True))
    restore_rows = [row for row in restored["audit"] if row[1] == AuditAction.DB_RESTORE]
    assert len(restore_rows) == 1, "the restore's own row, written after the counts were checked"
    kept = [row for row in restored["audit"] if row[1] != AuditAction.DB_RESTORE]
    assert len(kept) == tables["audit_auditevent"]
    live = {(e.pk, e.action, e.at.isoformat()) for e in AuditEvent.objects.all()}
    assert {tuple(row) for row in kept} <= live
    assert AuditAction.DB_BACKUP not in {row[1] for row in kept}
    # One snapshot: every batch done in the dump has all its records in it.
    assert restored["done_batches_record_count"] == tables["moods_moodrecord"]

    # The append-only guard came back with the tables (pg_restore restores triggers).
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        for statement in ("UPDATE audit_auditevent SET action = 'patient.view'",
                          "UPDATE audit_auditevent SET detail = '{}'::jsonb",
                          "DELETE FROM audit_auditevent",
                          "TRUNCATE audit_auditevent CASCADE"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM audit_auditevent").fetchone()[0] == len(restored["audit"])
