"""Dashboard speed at scale: p95 server time of the patient page, the mood-summary API, the patient list
and the alerts inbox.

    .venv/bin/python benchmarks/dashboard.py                 # creates, fills and drops moodwatch_bench
    .venv/bin/python benchmarks/dashboard.py --keep          # keep the database afterwards
    .venv/bin/python benchmarks/dashboard.py --reuse         # measure an existing (kept) database

Loads (bulk COPY) 1,000,000 mood records over 90 days for one patient and ~560 records each for
199 more, all assigned to one clinician; then times each request in process through Django's test
client (full middleware, session, ORM, template/serializer; no network): `server time`.
Needs the local PostgreSQL (127.0.0.1:5432, user postgres, trust auth).
"""
import argparse
import io
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MOODS = ["positive", "negative", "neutral", "other"]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="moodwatch_bench")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--records", type=int, default=1_000_000, help="records of the busy patient")
    parser.add_argument("--patients", type=int, default=200, help="patients of the clinician (the busy one included)")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--reuse", action="store_true", help="measure an existing database (no load)")
    return parser.parse_args()


def admin_connection(server: str):
    import psycopg

    return psycopg.connect(f"{server}/postgres", autocommit=True)


def database_create(server: str, name: str) -> None:
    with admin_connection(server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_drop(server: str, name: str) -> None:
    from django.db import connections

    connections.close_all()
    with admin_connection(server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def mood_for(rng: random.Random, day_fraction: float) -> tuple[str, list[float]]:
    """A plausible record: the negative share drifts up over the period, with noise."""
    weights = [0.38 - 0.15 * day_fraction, 0.12 + 0.25 * day_fraction, 0.35, 0.15]
    mood = rng.choices(MOODS, weights)[0]
    probs = [rng.random() * 0.3 for _ in MOODS]
    probs[MOODS.index(mood)] += 0.9
    total = sum(probs)
    return mood, [p / total for p in probs]


def load(*, records: int, patients: int, days: int, seed: int = 7):
    """Users, patients and devices through the ORM; batches and records through COPY."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from backend.devices.models import Device
    from backend.patients.models import Patient

    rng = random.Random(seed)
    now = datetime.now(UTC)
    clinician = get_user_model().objects.create_user("bench_clinician", password="bench-password-123")
    people = Patient.objects.bulk_create([
        Patient(reference=f"B-{i:04d}", display_name=f"Bench patient {i}", timezone="Europe/Paris",
                consent_recorded_at=now - timedelta(days=days + 1))
        for i in range(patients)
    ])
    clinician.patients.set(people)
    devices = Device.objects.bulk_create([
        Device(patient=p, label="bench", token_lookup_id=uuid.uuid4().hex[:16], token_digest="0" * 64) for p in people
    ])
    batch_rows, record_rows = io.StringIO(), io.StringIO()
    batch_id = 0
    tz = ZoneInfo("Europe/Paris")

    def add_batch(patient, device, moment: datetime, n: int, fraction: float):
        nonlocal batch_id
        batch_id += 1
        batch_rows.write(
            f"{batch_id}\t{device.pk}\t{patient.pk}\t{uuid.uuid4()}\tbench\tdone\t{n + 2}\t{n}\t0\t{n}\t"
            f"{moment.isoformat()}\t1\tbench\t\t\tframes\t0\n"
        )
        for i in range(n):
            mood, (pp, pn, pu, po) = mood_for(rng, fraction)
            captured = moment - timedelta(seconds=(n - i) * 4)
            record_rows.write(
                f"{patient.pk}\t{batch_id}\t{i}\t0\t{captured.isoformat()}\t{mood}\t{pp:.4f}\t{pn:.4f}\t{pu:.4f}\t{po:.4f}"
                f"\t100\t80\t160\t160\t0.93\tbench\t{now.isoformat()}\tserver\n"
            )

    # The busy patient: uploads of 30 faces spread over waking hours (08-22 local) for `days` days.
    busy, busy_device = people[0], devices[0]
    per_batch = 30
    batches = -(-records // per_batch)
    start = (now - timedelta(days=days)).astimezone(tz)
    waking = 14 * 3600
    for b in range(batches):
        offset = b * (days * waking) / batches
        day, second = divmod(offset, waking)
        moment = (start.replace(hour=8, minute=0, second=0) + timedelta(days=day, seconds=second))
        if moment > now:
            moment = now - timedelta(minutes=1)
        size = min(per_batch, records - b * per_batch)  # exactly `records` in all
        add_batch(busy, busy_device, moment, size, b / batches)
    # Everyone else: 14 days, 4 uploads of 10 faces a day.
    for patient, device in zip(people[1:], devices[1:]):
        for d in range(14):
            for k in range(4):
                moment = now - timedelta(days=d, hours=3 * k + 1, minutes=rng.randint(0, 59))
                add_batch(patient, device, moment, 10, rng.random())
    with connection.cursor() as cursor:
        raw = cursor.connection
        with raw.cursor() as cur:
            with cur.copy(
                "COPY ingest_framebatch (id, device_id, patient_id, batch_id, content_digest, status, frame_count,"
                " frames_with_face, frames_undecodable, record_count, received_at, attempts, model_version, error,"
                " claimed_by_task, kind, bystanders) FROM STDIN"
            ) as copy:
                copy.write(batch_rows.getvalue())
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('ingest_framebatch', 'id'),"
                " (SELECT max(id) FROM ingest_framebatch))"
            )
            with cur.copy(
                "COPY moods_moodrecord (patient_id, batch_id, frame_index, face_index, captured_at, mood, p_positive,"
                " p_negative, p_neutral, p_other, box_x, box_y, box_w, box_h, detection_score, model_version,"
                " created_at, source)"
                " FROM STDIN"
            ) as copy:
                copy.write(record_rows.getvalue())
            # What the ingest service writes as each batch lands: frames per 15-minute slot of capture time
            # (each bench batch had 2 faceless frames besides one face per record).
            cur.execute(
                "INSERT INTO rollups_captureslotcount"
                " (patient_id, slot_start, frames, frames_processed, frames_with_face)"
                " SELECT b.patient_id, to_timestamp(floor(extract(epoch FROM m.first) / 900) * 900),"
                " sum(b.frame_count), sum(b.frame_count), sum(b.frames_with_face)"
                " FROM ingest_framebatch b JOIN (SELECT batch_id, min(captured_at) AS first FROM moods_moodrecord"
                " GROUP BY batch_id) m ON m.batch_id = b.id GROUP BY 1, 2"
            )
        raw.commit() if not raw.autocommit else None
        cursor.execute("VACUUM ANALYZE")
    alerts_open(people=people, now=now, rng=rng)
    return clinician, busy


def alerts_open(*, people, now: datetime, rng: random.Random) -> None:
    """Open alerts for a quarter of the patients (one in three acknowledged), for the inbox."""
    from backend.alerts.models import Alert

    thresholds = {"window_days": 3, "negative_share": 0.6, "min_records": 50, "no_data_days": 2}
    alerts = []
    for i, patient in enumerate(people[::4]):
        raised = now - timedelta(hours=rng.randint(1, 200))
        acknowledged = i % 3 == 0
        alerts.append(Alert(
            patient=patient, kind=Alert.Kind.NEGATIVE_MOOD if i % 2 else Alert.Kind.NO_DATA, raised_at=raised,
            evaluated_at=now, records=60, negative_share=0.7, thresholds=thresholds,
            acknowledged_at=now if acknowledged else None,
            state=Alert.State.ACKNOWLEDGED if acknowledged else Alert.State.NEW,
        ))
    Alert.objects.bulk_create(alerts)


def timed(client, url: str, iterations: int, warmup: int = 3) -> dict:
    for _ in range(warmup):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    samples = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(round(0.95 * len(samples))) - 1)]
    return {"p50": statistics.median(samples), "p95": p95, "max": samples[-1], "n": len(samples)}


def main() -> int:
    args = parse_args()
    if not args.reuse:
        database_create(args.server, args.database)
    os.environ["DATABASE_URL"] = f"{args.server}/{args.database}"
    os.environ.setdefault("DJANGO_ENV", "test")  # DEBUG off, no query logging
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from backend.alerts.models import Alert
    from backend.moods.models import MoodRecord
    from backend.patients.models import Patient
    from backend.rollups.services import rollup_refresh_all

    print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores; other jobs share the machine)")
    try:
        if not args.reuse:
            call_command("migrate", verbosity=0)
            t0 = time.perf_counter()
            clinician, busy = load(records=args.records, patients=args.patients, days=args.days)
            print(f"loaded {MoodRecord.objects.count():,} records for {args.patients} patients "
                  f"in {time.perf_counter() - t0:.0f} s")
        else:
            clinician = get_user_model().objects.get(username="bench_clinician")
            busy = Patient.objects.get(reference="B-0000")
        busy_records = MoodRecord.objects.filter(patient=busy).count()
        print(f"busy patient {busy.reference}: {busy_records:,} records")
        client = Client()
        client.force_login(clinician)
        start = (datetime.now(ZoneInfo(busy.timezone)) - timedelta(days=args.days - 1)).date().isoformat()
        page = f"/patients/{busy.pk}/?range=90d&bucket=day"
        cases = {
            "patient page (90 days, day buckets)": page,
            "mood-summary API (90 days, day buckets)":
                f"/api/v1/patients/{busy.pk}/mood-summary/?from={start}&bucket=day",
            "mood-summary API (default: 7 days, day buckets)": f"/api/v1/patients/{busy.pk}/mood-summary/",
            f"patient list ({args.patients} patients)": "/patients/",
            f"alerts inbox ({Alert.objects.filter(resolved_at__isnull=True).count()} open alerts)": "/alerts/",
        }
        t0 = time.perf_counter()
        rollup_refresh_all()  # what the beat-scheduled refresh_rollups task does after the bulk load
        print(f"rollup of every finished batch (periodic task, once after the load): {time.perf_counter() - t0:.1f} s")
        print(f"{'request':<52} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8}")
        worst = 0.0
        for name, url in cases.items():
            queries = []
            with connection.execute_wrapper(
                lambda execute, sql, params, many, context, queries=queries:
                    queries.append(sql) or execute(sql, params, many, context)
            ):
                client.get(url)
            result = timed(client, url, args.iterations)
            worst = max(worst, result["p95"])
            print(f"{name:<52} {result['p50']:8.1f} {result['p95']:8.1f} {result['max']:8.1f} {len(queries):8d}")
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        print(f"target p95 <= 300 ms: {'met' if worst <= 300 else 'NOT met'} "
              f"(worst p95 {worst:.1f} ms, {args.iterations} requests each)")
    finally:
        if not args.keep:
            database_drop(args.server, args.database)
            print(f"dropped database {args.database}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
