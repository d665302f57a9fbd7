"""Abuse benchmark: one device floods at its upload throttle; how long do other patients' batches wait?

Starts gunicorn, a Celery worker and a scratch PostgreSQL database (see benchmarks/stack.py) with the
production upload throttle (UPLOAD_THROTTLE_RATE, 120/minute unless set) and enrolls 1 + --patients
phones. For --duration seconds the flooding phone uploads --flood-batch-size-frame batches as fast
as the throttle lets it (a 429's Retry-After is waited out, as a phone does), while every other phone
uploads a 1-frame batch every --interval seconds. The per-device frame budget is off
(DEVICE_FRAME_BUDGET_PER_HOUR=0, as in every benchmark), so this measures the scheduling alone: the
budget would stop the flooder after DEVICE_FRAME_BUDGET_PER_HOUR frames.

It prints the other patients' wait, upload -> batch done (the batch's processed_at), as p50 / p95 /
max, the flood's accepted and throttled uploads, and the flood's backlog at the end. Exits 1 if an
other patient's batch was refused or not done within --drain-timeout.

    .venv/bin/python benchmarks/flood.py                          # 60 s, 4 other patients
    .venv/bin/python benchmarks/flood.py --duration 30 --json

Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust) and Redis at 127.0.0.1:6379, as `make test`.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.stack import (  # noqa: E402
    Stack,
    StackOptions,
    capture_stamps,
    exit_cleanly_on_sigterm,
    frame_pool,
    machine_note,
    percentile,
)
from clients.simulator.api import ApiError, DeviceApi, TransientError  # noqa: E402


class Phones:
    """The flooder and the other patients, until `deadline`."""

    def __init__(self, flooder: DeviceApi, others: list[DeviceApi], pool: list, args):
        self.flooder, self.others, self.pool, self.args = flooder, others, pool, args
        self.lock = threading.Lock()
        self.flood_accepted = self.flood_throttled = 0
        self.flood_errors: list[str] = []
        self.other_sent: list[tuple[str, float]] = []  # batch_id, wall time the upload began
        self.other_refused: list[str] = []

    def run(self) -> None:
        self.deadline = time.monotonic() + self.args.duration
        threads = [threading.Thread(target=self._flood, daemon=True)]
        threads += [threading.Thread(target=self._other, args=(i, phone), daemon=True)
                    for i, phone in enumerate(self.others)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _flood(self) -> None:
        size, n = self.args.flood_batch_size, 0
        while time.monotonic() < self.deadline:
            jpegs = [self.pool[(n + i) % len(self.pool)].jpeg for i in range(size)]
            n += size
            try:
                self.flooder.upload(batch_id=str(uuid.uuid4()), jpegs=jpegs, captured_at=capture_stamps(size))
                self.flood_accepted += 1
            except TransientError as error:  # 429 at the throttle: wait as told, then go on
                self.flood_throttled += 1
                time.sleep(min(error.retry_after or 1.0, max(0.0, self.deadline - time.monotonic())))
            except ApiError as error:
                self.flood_errors.append(str(error))
                time.sleep(1)

    def _other(self, index: int, phone: DeviceApi) -> None:
        # staggered, so the other patients' uploads are spread over the interval
        next_at = time.monotonic() + self.args.interval * (index + 1) / (len(self.others) + 1)
        while next_at < self.deadline:
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += self.args.interval
            batch_id, began = str(uuid.uuid4()), time.time()
            try:
                phone.upload(batch_id=batch_id, jpegs=[self.pool[index % len(self.pool)].jpeg],
                             captured_at=capture_stamps(1))
            except (TransientError, ApiError) as error:
                with self.lock:
                    self.other_refused.append(str(error))
                continue
            with self.lock:
                self.other_sent.append((batch_id, began))


def waits(database_url: str, sent: list[tuple[str, float]], timeout: float) -> tuple[list[float], int]:
    """Seconds from each upload's start to its batch's processed_at; and how many were not done."""
    began = dict(sent)
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as connection:
        while True:
            rows = connection.execute(
                "SELECT batch_id::text, status, extract(epoch FROM processed_at) FROM ingest_framebatch "
                "WHERE batch_id::text = ANY(%s)", [list(began)]).fetchall()
            done = {batch_id: float(at) for batch_id, status, at in rows if status == "done"}
            if len(done) == len(began) or time.monotonic() > deadline:
                return [done[b] - began[b] for b in began if b in done], len(began) - len(done)
            time.sleep(0.5)


def flood_backlog(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as connection:
        return connection.execute(
            "SELECT count(*) FROM ingest_framebatch WHERE status IN ('queued', 'processing') "
            "AND frame_count > 1").fetchone()[0]


def run(args) -> dict:
    pool = frame_pool(args.pool_size)
    with tempfile.TemporaryDirectory(prefix="moodwatch-flood-") as scratch:
        options = StackOptions(label="flood", web_workers=args.web_workers, worker_processes=args.worker_processes,
                               redis_db=args.redis_db)
        with Stack(options, args.logs or Path(scratch)) as stack:
            flooder, *others = stack.phones(1 + args.patients)
            phones = Phones(flooder, others, pool, args)
            machine_before = machine_note()
            phones.run()
            backlog = flood_backlog(stack.database_url)
            other_waits, not_done = waits(stack.database_url, phones.other_sent, args.drain_timeout)
    return {
        "duration_s": args.duration, "patients": args.patients, "interval_s": args.interval,
        "flood_batch_size": args.flood_batch_size, "worker_processes": args.worker_processes,
        "web_workers": args.web_workers,
        "flood_batches_accepted": phones.flood_accepted, "flood_uploads_throttled": phones.flood_throttled,
        "flood_errors": phones.flood_errors[:5], "flood_backlog_at_end": backlog,
        "other_batches": len(phones.other_sent), "other_refused": phones.other_refused[:5],
        "other_not_done": not_done,
        "other_wait_p50_s": round(percentile(other_waits, 50), 2),
        "other_wait_p95_s": round(percentile(other_waits, 95), 2),
        "other_wait_max_s": round(max(other_waits, default=float("nan")), 2),
        "machine_before": machine_before, "machine_after": machine_note(),
    }


def report(f: dict) -> str:
    return "\n".join([
        f"flood: 1 device, {f['flood_batch_size']}-frame batches at its upload throttle for {f['duration_s']} s: "
        f"{f['flood_batches_accepted']} batches accepted, {f['flood_uploads_throttled']} uploads throttled (429), "
        f"{f['flood_backlog_at_end']} of its batches queued or processing at the end",
        f"other patients: {f['patients']} phones, a 1-frame batch every {f['interval_s']} s each, "
        f"{f['other_batches']} batches ({len(f['other_refused'])} refused, {f['other_not_done']} not done)",
        f"  wait, upload -> done: p50 {f['other_wait_p50_s']} s, p95 {f['other_wait_p95_s']} s, "
        f"max {f['other_wait_max_s']} s",
        f"stack: gunicorn {f['web_workers']} workers, Celery --concurrency {f['worker_processes']}; "
        f"machine before {f['machine_before']}, after {f['machine_after']}",
    ])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60, help="seconds of flood")
    parser.add_argument("--patients", type=int, default=4, help="other patients (one phone each)")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between an other phone's batches")
    parser.add_argument("--flood-batch-size", type=int, default=60, help="frames per flood batch")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--worker-processes", type=int, default=2, help="Celery worker processes (--concurrency)")
    parser.add_argument("--pool-size", type=int, default=60, help="distinct jittered frames to draw from")
    parser.add_argument("--redis-db", type=int, default=13, help="Redis database number for broker and cache")
    parser.add_argument("--drain-timeout", type=float, default=300,
                        help="seconds to wait, after the flood, for the other patients' batches")
    parser.add_argument("--logs", type=Path, help="keep the server logs in this folder")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args(argv)
    exit_cleanly_on_sigterm()
    figures = run(args)
    print(json.dumps(figures) if args.json else report(figures))
    ok = figures["other_batches"] and not figures["other_refused"] and not figures["other_not_done"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
