"""End-to-end throughput of the deployed pipeline: phone -> HTTP -> PostgreSQL -> Celery -> records.

It starts what docker-compose.yml starts, as plain processes on this machine: gunicorn (the web
service) and a Celery worker with --concurrency C, on a scratch PostgreSQL database and a Redis
database. It makes N phone-like 640x360 frames from the real photos (the same jittered set as
bench_inference.py), then the device simulator enrolls and uploads them in batches, and polls
until every batch is processed. It prints upload and end-to-end rates and the per-batch latency
(received -> processed) the server recorded. Everything it started is stopped, and the scratch
database dropped, at the end.

    .venv/bin/python benchmarks/bench_pipeline.py                         # 300 frames, 2 worker processes
    .venv/bin/python benchmarks/bench_pipeline.py --frames 600 --concurrency 4 --batch-size 30 --json

Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust) and Redis at 127.0.0.1:6379, as `make test` does.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.stack import free_port  # noqa: E402

PY = sys.executable


def make_frames(folder: Path, n: int) -> None:
    spec = importlib.util.spec_from_file_location("bench_inference", ROOT / "benchmarks" / "bench_inference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.make_frames(folder, n, seed=0)


def scratch_database(name: str, *, drop_only: bool = False) -> None:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            connection.execute(f'CREATE DATABASE "{name}"')


def manage(env: dict, *args: str) -> str:
    result = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip()


def wait_healthy(url: str, processes: list[subprocess.Popen], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            sys.exit("a server process exited early; see its log")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit(f"{url}/healthz did not answer 200 within {timeout}s")


def batch_timings(database_url: str) -> list[tuple[float, float, int]]:
    """(received, processed, frames) per batch, as the server recorded them (epoch seconds)."""
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT extract(epoch FROM received_at), extract(epoch FROM processed_at), frame_count "
            "FROM ingest_framebatch WHERE status = 'done'").fetchall()
    return [(float(a), float(b), n) for a, b, n in rows]


def run(args) -> dict:
    name = f"moodwatch_bench_{os.getpid()}"
    database_url = f"postgres://postgres@127.0.0.1:5432/{name}"
    port, queue = free_port(), f"bench-{os.getpid()}"
    env = {**os.environ, "DATABASE_URL": database_url, "CELERY_BROKER_URL": args.broker_url, "CELERY_QUEUE": queue,
           "DJANGO_ENV": "test", "CACHE_URL": "locmemcache://bench", "ENROLL_THROTTLE_RATE": "1000/hour"}
    processes: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        make_frames(scratch / "frames", args.frames)
        scratch_database(name)
        try:
            manage(env, "migrate", "--noinput", "-v", "0")
            manage(env, "shell", "-c", "from django.contrib.auth.models import User; User.objects.create_user('bench')")
            manage(env, "create_patient", "--ref", "BENCH-1", "--clinician", "bench", "--consent",
                   "--inference-mode", "frames")
            code = manage(env, "enrollment_code", "--patient", "BENCH-1").splitlines()[-1]
            logs = {n: open(scratch / f"{n}.log", "w") for n in ("web", "worker")}
            processes.append(subprocess.Popen(
                [PY, "-m", "gunicorn", "backend.wsgi:application", "--bind", f"127.0.0.1:{port}",
                 "--workers", str(args.web_workers), "--timeout", "120"],
                cwd=ROOT, env=env, stdout=logs["web"], stderr=subprocess.STDOUT))
            processes.append(subprocess.Popen(
                [PY, "-m", "celery", "-A", "backend", "worker", "--concurrency", str(args.concurrency),
                 "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
                cwd=ROOT, env=env, stdout=logs["worker"], stderr=subprocess.STDOUT))
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, processes)
            result = subprocess.run(
                [PY, "-m", "clients.simulator", "--server", url, "--state-dir", str(scratch / "phone"), "--code", code,
                 "--images", str(scratch / "frames"), "--interval", "1", "--batch-size", str(args.batch_size),
                 "--no-progress", "--json", "--poll-timeout", "1800"],
                cwd=ROOT, capture_output=True, text=True)
            if result.returncode != 0:
                sys.exit(f"simulator failed ({result.returncode}):\n{result.stderr[-3000:]}")
            summary = json.loads(result.stdout)
            timings = batch_timings(database_url)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
            scratch_database(name, drop_only=True)
    latencies = sorted(done - received for received, done, _ in timings)
    first_upload = summary["upload_started_at"]
    return {
        "frames": summary["frames_sent"], "batches": summary["batches_sent"], "batch_size": args.batch_size,
        "worker_processes": args.concurrency, "web_workers": args.web_workers,
        "frames_with_face": summary["frames_with_face"], "records": summary["records_created"],
        "upload_frames_per_s": round(summary["frames_sent"] / summary["upload_seconds"], 1),
        "end_to_end_frames_per_s": round(summary["frames_sent"] / (max(d for _, d, _ in timings) - first_upload), 1),
        "batch_latency_s": {"median": round(statistics.median(latencies), 2), "max": round(latencies[-1], 2)},
        "cpu_count": os.cpu_count(),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures = run(args)
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"{figures['frames']} frames in {figures['batches']} batches of up to {args.batch_size}, "
              f"{args.concurrency} worker processes, {args.web_workers} web workers, {figures['cpu_count']} CPUs")
        print(f"  upload:      {figures['upload_frames_per_s']} frames/s (first POST to last batch accepted)")
        print(f"  end to end:  {figures['end_to_end_frames_per_s']} frames/s "
              "(first POST to last batch's records written, frames deleted)")
        print(f"  batch latency received -> processed: median {figures['batch_latency_s']['median']} s, "
              f"max {figures['batch_latency_s']['max']} s")
        print(f"  {figures['frames_with_face']} frames with a face, {figures['records']} mood records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
