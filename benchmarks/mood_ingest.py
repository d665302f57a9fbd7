"""Mood-batch ingest at saturation (issue 28): how many mood records a second the server lands when
phones in on_device mode send their batches of 60 frame entries as fast as it answers.

Two measurements, both against PostgreSQL on a scratch database of benchmarks/stack.py's `Stack`:

- `http` (default): the deployed web (gunicorn, production settings, one worker per core) behind
  the real device API. --devices phones, enrolled through POST /api/v1/devices/enroll/ for
  on_device patients, each a thread that POSTs /api/v1/mood-batches/ back to back for --duration
  seconds (60 entries with a face each, distinct capture times within a batch; each phone cycles
  through 16 bodies built before the clock starts, each send with a new batch_id). Prints the CPU
  milliseconds per batch of the web, PostgreSQL, the worker and this load generator.
- `service`: the same batches through `mood_batch_validate` + `mood_batch_ingest` in one process
  (`manage.py shell` on the same database), without HTTP: the cost of the landing itself. Prints
  the statements and commits per batch, counted at psycopg, for the service and (20 more batches
  through django.test.Client) for the whole request.

Then it checks the database: every batch answered 201 is stored once, `done`, with exactly its
records (0 lost), and no (batch, frame, face) twice (0 duplicated). Records/s = records answered
201 / wall time of the load. The client threads share this machine's CPUs with the server: on a
2-core machine shared with other jobs, run it under `nice` and read the load average it prints.
Figures, before and after, in docs/performance.md ("Mood-batch ingest").

    nice .venv/bin/python benchmarks/mood_ingest.py --duration 20        # http, 8 phones
    nice .venv/bin/python benchmarks/mood_ingest.py --mode service --batches 300
    nice .venv/bin/python benchmarks/mood_ingest.py --web-workers 3 --devices 12 --json

Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust) and Redis at 127.0.0.1:6379, as `make test`.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.stack import Stack, StackOptions, exit_cleanly_on_sigterm, machine_note  # noqa: E402

MOODS = ("positive", "negative", "neutral", "other")


def mood_batch(*, version: str, frames: int, seed: int) -> dict:
    """One batch of `frames` entries, each with a face, capture times one second apart in the past day."""
    start = datetime.now(UTC) - timedelta(hours=20) + timedelta(seconds=seed % 50_000)
    entries = []
    for i in range(frames):
        top = MOODS[(seed + i) % 4]
        probabilities = {m: 0.7 if m == top else 0.1 for m in MOODS}
        entries.append({
            "captured_at": (start + timedelta(seconds=i)).isoformat(),
            "face": {"box": [100 + i % 50, 80, 160, 180], "detection_score": 0.93, "probabilities": probabilities},
            "bystanders": int(i % 7 == 0),
        })
    return {"batch_id": str(uuid.uuid4()), "model_version": version, "frame_size": [640, 480], "frames": entries}


def served_version() -> str:
    from inference.card import model_version

    return model_version()


# --- http ------------------------------------------------------------------------------------------

PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"
BODIES_PER_PHONE = 16  # built before the load; each send gives one of them a new batch_id


def http_load(stack: Stack, *, devices: int, duration: float, frames: int) -> tuple[dict, list[str]]:
    """Each phone is a thread sending its batches back to back over its own connection. The bodies are
    built before the clock starts (a phone builds its batch on the phone, not on the server's cores),
    and sent with http.client, the lightest client: the load generator shares the server's CPUs."""
    version = served_version()
    phones = stack.phones(devices, inference_mode="on_device")
    accepted: list[str] = []
    refused: dict[str, int] = {}
    lock = threading.Lock()
    latencies: list[float] = []
    host, port = stack.url.removeprefix("http://").split(":")
    templates = [
        [json.dumps({**mood_batch(version=version, frames=frames, seed=index * 1_000_003 + k),
                     "batch_id": PLACEHOLDER_ID}).encode() for k in range(BODIES_PER_PHONE)]
        for index in range(devices)
    ]
    stop_at = 0.0

    def phone(index: int, api) -> None:
        headers = {"Authorization": api.session.headers["Authorization"], "Content-Type": "application/json"}
        sent = 0
        while time.monotonic() < stop_at:
            batch_id = str(uuid.uuid4())
            raw = templates[index][sent % BODIES_PER_PHONE].replace(PLACEHOLDER_ID.encode(), batch_id.encode())
            sent += 1
            began = time.monotonic()
            connection = http.client.HTTPConnection(host, int(port), timeout=60)
            try:
                connection.request("POST", "/api/v1/mood-batches/", body=raw, headers=headers)
                response = connection.getresponse()
                status, answer = response.status, response.read()
            except OSError as error:
                with lock:
                    refused[type(error).__name__] = refused.get(type(error).__name__, 0) + 1
                continue
            finally:
                connection.close()
            with lock:
                latencies.append(time.monotonic() - began)
                if status == 201:
                    accepted.append(batch_id)
                else:
                    key = f"{status} {json.loads(answer).get('code', '')}"
                    refused[key] = refused.get(key, 0) + 1

    threads = [threading.Thread(target=phone, args=(i, api)) for i, api in enumerate(phones)]
    cpu_before = stack.cpu()
    started = time.monotonic()
    stop_at = started + duration
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    cpu_after = stack.cpu()
    latencies.sort()
    figures = {
        "mode": "http", "devices": devices, "frames_per_batch": frames, "wall_s": round(wall, 2),
        "batches_accepted": len(accepted), "records_accepted": len(accepted) * frames,
        "records_per_s": round(len(accepted) * frames / wall, 1),
        "batches_per_s": round(len(accepted) / wall, 1),
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 1) if latencies else None,
        "p95_ms": round(1000 * latencies[int(len(latencies) * 0.95)], 1) if latencies else None,
        "refused": refused,
        # CPU of each process group during the load, per accepted batch: where the cores went
        "cpu_ms_per_batch": {name: round(1000 * (cpu_after[name] - cpu_before[name]) / max(1, len(accepted)), 2)
                             for name in ("web", "postgres", "worker", "load_generator")},
    }
    return figures, accepted


# --- service ---------------------------------------------------------------------------------------

SERVICE_SCRIPT = """
import json, sys, time
import psycopg
from django.test import Client
from backend.devices.models import Device
from backend.ingest.mood_batches import mood_batch_validate
from backend.ingest.selectors import model_versions_published
from backend.ingest.services import mood_batch_ingest

# Count every statement this process sends PostgreSQL (Django's cursors are psycopg cursors, and
# so is the COPY of the records), and every commit: the round trips a batch costs the database.
counted = {"statements": 0, "commits": 0}
def counting(method, key):
    def wrapper(*args, **kwargs):
        counted[key] += 1
        return method(*args, **kwargs)
    return wrapper
for name in ("execute", "executemany", "copy"):
    setattr(psycopg.Cursor, name, counting(getattr(psycopg.Cursor, name), "statements"))
psycopg.Connection.commit = counting(psycopg.Connection.commit, "commits")

bodies = json.load(open(sys.argv[-1]))
devices = list(Device.objects.select_related("patient").order_by("pk"))
published = model_versions_published()
landed = bodies[:-REQUESTS]
counted.update(statements=0, commits=0)
started = time.monotonic()
accepted = []
for i, body in enumerate(landed):
    batch = mood_batch_validate(body, published_versions=published)
    row, created = mood_batch_ingest(device=devices[i % len(devices)], batch=batch)
    if created:
        accepted.append(body["batch_id"])
wall = time.monotonic() - started
service = dict(counted)

# The whole request in this process (middleware, authentication, throttle, view): its statements.
client = Client(HTTP_HOST="127.0.0.1")
counted.update(statements=0, commits=0)
for i, body in enumerate(bodies[-REQUESTS:]):
    response = client.post("/api/v1/mood-batches/", data=json.dumps(body), content_type="application/json",
                           HTTP_AUTHORIZATION=TOKENS[i % len(TOKENS)])
    assert response.status_code == 201, (response.status_code, response.content[:300])
    accepted.append(body["batch_id"])
print("RESULT " + json.dumps({"wall_s": wall, "accepted": accepted, "landed": len(landed),
                              "service": service, "request": dict(counted)}))
"""
REQUESTS = 20  # batches sent through the whole request after the timed ones, to count its statements


def service_load(stack: Stack, *, devices: int, batches: int, frames: int, workdir: Path) -> tuple[dict, list[str]]:
    phones = stack.phones(devices, inference_mode="on_device")
    tokens = [api.session.headers["Authorization"] for api in phones]
    version = served_version()
    bodies = [mood_batch(version=version, frames=frames, seed=i * 7919) for i in range(batches + REQUESTS)]
    path = workdir / "bodies.json"
    path.write_text(json.dumps(bodies))
    script = (SERVICE_SCRIPT.replace("sys.argv[-1]", repr(str(path))).replace("REQUESTS", str(REQUESTS))
              .replace("TOKENS", repr(tokens)))
    out = stack.manage("shell", "-c", script)
    result = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])
    wall, accepted, landed = result["wall_s"], result["accepted"], result["landed"]
    timed = len(accepted) - REQUESTS  # the untimed requests' batches count in the checks, not the rate
    figures = {
        "mode": "service", "devices": devices, "frames_per_batch": frames, "wall_s": round(wall, 2),
        "batches_accepted": timed, "records_accepted": timed * frames,
        "records_per_s": round(timed * frames / wall, 1), "batches_per_s": round(timed / wall, 1),
        "queries_per_batch": {
            "service": round(result["service"]["statements"] / landed, 2),
            "service_commits": round(result["service"]["commits"] / landed, 2),
            "request": round(result["request"]["statements"] / REQUESTS, 2),
            "request_commits": round(result["request"]["commits"] / REQUESTS, 2),
        },
    }
    return figures, accepted


# --- verification ----------------------------------------------------------------------------------

def verify(stack: Stack, accepted: list[str], *, frames: int) -> dict:
    """Every accepted batch stored once, done, with all its records (lost), and none twice (duplicated)."""
    import psycopg

    with psycopg.connect(stack.database_url) as connection:
        rows = connection.execute(
            "SELECT b.batch_id::text, b.status, b.kind, b.record_count, count(r.id),"
            " count(DISTINCT (r.frame_index, r.face_index))"
            " FROM ingest_framebatch b LEFT JOIN moods_moodrecord r ON r.batch_id = b.id"
            " GROUP BY b.id").fetchall()
        frames_stored = connection.execute("SELECT count(*) FROM ingest_frame").fetchone()[0]
        slot_frames = connection.execute("SELECT coalesce(sum(frames), 0) FROM rollups_captureslotcount").fetchone()[0]
    stored = {row[0]: row for row in rows}
    lost = sum(frames - (stored[b][4] if b in stored else 0) for b in accepted)
    duplicated = sum(row[4] - row[5] for row in rows)
    return {
        "batches_stored": len(rows),
        "accepted_not_stored": sum(1 for b in accepted if b not in stored),
        "stored_not_accepted": len(set(stored) - set(accepted)),
        "not_done_or_not_moods": sum(1 for row in rows if (row[1], row[2]) != ("done", "moods")),
        "records_lost": lost,
        "records_duplicated": duplicated,
        "frames_stored": frames_stored,
        "coverage_frames": slot_frames,
        "coverage_matches": slot_frames == len(rows) * frames,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["http", "service"], default="http",
                        help="through gunicorn and the device API (http), or the services in one process")
    parser.add_argument("--devices", type=int, default=8, help="phones (on_device patients), one thread each")
    parser.add_argument("--duration", type=float, default=30.0, help="http: seconds of load")
    parser.add_argument("--batches", type=int, default=300, help="service: batches to land")
    parser.add_argument("--frames", type=int, default=60, help="frame entries per batch (the server's limit: 60)")
    parser.add_argument("--web-workers", type=int, default=os.cpu_count(),
                        help="gunicorn worker processes (default: one per core, as deployed)")
    parser.add_argument("--web-threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument("--redis-db", type=int, default=13, help="Redis database number for broker and cache")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args(argv)
    exit_cleanly_on_sigterm()

    options = StackOptions(label="moods", web_workers=args.web_workers, web_threads=args.web_threads,
                           worker_processes=1, redis_db=args.redis_db,
                           extra_env={"UPLOAD_THROTTLE_RATE": "1000000/minute"})
    with tempfile.TemporaryDirectory(prefix="moodwatch-moods-") as scratch, Stack(options, Path(scratch)) as stack:
        before = machine_note()
        if args.mode == "http":
            figures, accepted = http_load(stack, devices=args.devices, duration=args.duration, frames=args.frames)
        else:
            figures, accepted = service_load(stack, devices=args.devices, batches=args.batches, frames=args.frames,
                                             workdir=Path(scratch))
        time.sleep(2)  # the folds and alert evaluations after the last commits
        figures["check"] = verify(stack, accepted, frames=args.frames)
        figures["machine"] = {"before": before, "after": machine_note()}
    ok = (figures["check"]["records_lost"] == 0 and figures["check"]["records_duplicated"] == 0
          and figures["check"]["accepted_not_stored"] == 0 and figures["check"]["frames_stored"] == 0)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        c = figures["check"]
        print(f"mood-batch ingest ({figures['mode']}): {figures['records_per_s']:,} records/s "
              f"({figures['batches_per_s']} batches/s of {figures['frames_per_batch']} entries) "
              f"over {figures['wall_s']} s, {figures['devices']} phones")
        if figures["mode"] == "http":
            print(f"  latency p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms; "
                  f"refused: {figures['refused'] or 0}")
            print("  CPU ms per batch: " + ", ".join(f"{k} {v}" for k, v in figures["cpu_ms_per_batch"].items()))
        else:
            q = figures["queries_per_batch"]
            print(f"  statements per batch: {q['service']} in the service ({q['service_commits']} commits), "
                  f"{q['request']} in the whole request ({q['request_commits']} commits)")
        print(f"  accepted {figures['records_accepted']:,} records in {figures['batches_accepted']} batches; "
              f"lost {c['records_lost']}, duplicated {c['records_duplicated']}, frames stored {c['frames_stored']}, "
              f"coverage frames {c['coverage_frames']:,} ({'matches' if c['coverage_matches'] else 'MISMATCH'})")
        print(f"  machine: {figures['machine']['before']['cpus']} CPUs, load average (1 min) "
              f"{figures['machine']['before']['loadavg_1m']} before, {figures['machine']['after']['loadavg_1m']} after")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
