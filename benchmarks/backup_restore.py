"""Backup and restore at scale: `manage.py db_backup` and `db_restore` timed on N mood records.

Creates a scratch database on the server (never the development or test database), migrates it,
fills it with --records mood records (in batches of --records-per-batch, for --patients patients,
each with a device, plus one alert and one audit row per patient) by INSERT ... SELECT
generate_series inside PostgreSQL, then runs, as an operator would:

    manage.py db_backup --out DIR/bench.dump
    manage.py db_restore DIR/bench.dump --database-url <a second, empty scratch database>

and prints the rows, the seconds of each step, and the dump's size. Both scratch databases and the
dump are removed at the end (--keep leaves them).

    nice .venv/bin/python benchmarks/backup_restore.py                    # 1,000,000 records
    nice .venv/bin/python benchmarks/backup_restore.py --records 100000

Needs PostgreSQL (default 127.0.0.1:5432, user postgres, trust, as `make test`) and pg_dump/pg_restore.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inference.labels import MOODS  # noqa: E402  (the mood names, without Django)

FILL = """
INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
VALUES ('!', false, 'bench_clinician', '', '', '', false, true, now());

INSERT INTO patients_patient (id, reference, display_name, timezone, is_active, created_at, reference_key,
                              inference_mode, consent_recorded_at)
SELECT md5('patient' || p)::uuid, 'BENCH-' || p, '', 'UTC', true, now(), 'bench-' || p, 'frames', now()
FROM generate_series(0, %(patients)s - 1) AS p;

INSERT INTO devices_device (id, label, token_lookup_id, token_digest, enrolled_at, patient_id)
SELECT md5('device' || p)::uuid, 'phone', left(md5('lookup' || p), 16), md5('digest' || p), now(),
       md5('patient' || p)::uuid
FROM generate_series(0, %(patients)s - 1) AS p;

INSERT INTO ingest_framebatch (batch_id, content_digest, status, frame_count, frames_with_face, frames_undecodable,
                               record_count, received_at, claimed_by_task, attempts, processed_at, model_version,
                               error, device_id, patient_id, bystanders, kind)
SELECT md5('batch' || b)::uuid, md5('content' || b), 'done', %(per_batch)s, %(per_batch)s, 0, %(per_batch)s,
       now() - make_interval(secs => b), '', 1, now() - make_interval(secs => b), 'bench', '',
       md5('device' || (b %% %(patients)s))::uuid, md5('patient' || (b %% %(patients)s))::uuid, 0, 'frames'
FROM generate_series(0, %(batches)s - 1) AS b;

INSERT INTO moods_moodrecord (frame_index, face_index, captured_at, mood, p_positive, p_negative, p_neutral, p_other,
                              box_x, box_y, box_w, box_h, detection_score, model_version, created_at, batch_id,
                              patient_id, source)
SELECT r %% %(per_batch)s, 0, now() - make_interval(secs => r), (%(moods)s)[1 + r %% %(mood_count)s],
       0.7, 0.1, 0.1, 0.1, 10, 20, 100, 120, 0.9, 'bench', now(), fb.id, fb.patient_id, 'server'
FROM generate_series(0, %(records)s - 1) AS r
JOIN ingest_framebatch fb ON fb.batch_id = md5('batch' || (r / %(per_batch)s))::uuid;

INSERT INTO alerts_alert (patient_id, kind, raised_at, evaluated_at, thresholds, rule, state, resolution,
                          notification_attempts, notified_to)
SELECT md5('patient' || p)::uuid, 'no_data', now(), now(), '{}'::jsonb, '', 'new', '', 0, '[]'::jsonb
FROM generate_series(0, %(patients)s - 1) AS p;

INSERT INTO audit_auditevent (at, actor_username, action, channel, patient_reference, detail)
SELECT now(), 'system', 'patient.create', 'system', 'BENCH-' || p, '{}'::jsonb
FROM generate_series(0, %(patients)s - 1) AS p;
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000, help="mood records to fill (default 1,000,000)")
    parser.add_argument("--patients", type=int, default=100, help="patients they belong to (default 100)")
    parser.add_argument("--records-per-batch", type=int, default=10, help="records per frame batch (default 10)")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432",
                        help="the PostgreSQL server, without a database name (default: postgres://postgres@127.0.0.1:5432)")
    parser.add_argument("--workdir", help="where the dump goes (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases and the dump")
    args = parser.parse_args()
    if args.records < 1 or args.patients < 1 or args.records_per_batch < 1:
        parser.error("--records, --patients and --records-per-batch must be at least 1")

    import psycopg  # after argparse: --help works without the database driver

    server = args.server.rstrip("/")
    tag = uuid.uuid4().hex[:8]
    source, target = f"moodwatch_bench_backup_{tag}", f"moodwatch_bench_restore_{tag}"
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="moodwatch-backup-bench-"))
    dump = workdir / f"bench-{tag}.dump"
    env = {**os.environ, "DATABASE_URL": f"{server}/{source}", "DJANGO_ENV": os.environ.get("DJANGO_ENV", "test")}

    def admin(statement: str) -> None:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(statement)

    def manage(*command: str) -> tuple[float, str]:
        started = time.monotonic()
        result = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True,
                                text=True)
        seconds = time.monotonic() - started
        if result.returncode != 0:
            raise SystemExit(f"manage.py {command[0]} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return seconds, result.stdout

    try:
        admin(f'CREATE DATABASE "{source}"')
        admin(f'CREATE DATABASE "{target}"')
        manage("migrate", "--noinput", "-v", "0")
        batches = -(-args.records // args.records_per_batch)
        started = time.monotonic()
        with psycopg.connect(f"{server}/{source}") as conn:
            moods = "ARRAY[" + ", ".join(f"'{mood}'" for mood in MOODS) + "]"
            conn.execute(FILL % {"patients": args.patients, "batches": batches, "records": args.records,
                                 "per_batch": args.records_per_batch, "moods": moods, "mood_count": len(MOODS)})
            conn.commit()
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE")
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        fill_seconds = time.monotonic() - started
        print(f"filled {source}: {args.records:,} records, {batches:,} batches, {args.patients} patients "
              f"in {fill_seconds:.1f} s; database {size / 2**20:.0f} MiB", flush=True)

        backup_seconds, out = manage("db_backup", "--out", str(dump))
        print(out.strip(), flush=True)
        restore_seconds, out = manage("db_restore", str(dump), "--database-url", f"{server}/{target}")
        print(out.strip(), flush=True)
        dump_bytes = dump.stat().st_size
        print()
        print(f"records        {args.records:>12,}")
        print(f"dump size      {dump_bytes / 2**20:>12.1f} MiB ({dump_bytes:,} bytes, pg_dump --format=custom)")
        print(f"db_backup      {backup_seconds:>12.1f} s (the whole command: snapshot, counts, pg_dump, SHA-256)")
        print(f"db_restore     {restore_seconds:>12.1f} s (the whole command: SHA-256, pg_restore, counts)")
    finally:
        if not args.keep:
            dump.unlink(missing_ok=True)
            Path(str(dump) + ".manifest.json").unlink(missing_ok=True)
            for name in (source, target):
                admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if not args.workdir:
                try:
                    workdir.rmdir()
                except OSError:
                    pass
        else:
            print(f"kept: databases {source}, {target}; dump {dump}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
