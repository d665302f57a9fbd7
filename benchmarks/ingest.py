"""Ingest throughput: many phones -> gunicorn -> PostgreSQL -> Celery -> mood records, on this machine.

Starts gunicorn, a Celery worker and a scratch PostgreSQL database (see benchmarks/stack.py),
enrolls --devices phones through the public API and has them upload --batch-size-frame batches
of real 640x360 frames (jittered from ../shared/images) for --duration seconds, then waits for
every batch to be processed. By default every phone uploads its next batch as soon as the last
one is accepted (saturation); with --rate R the phones together offer R frames/s on fixed
schedules (open loop, as phones do), which shows the latency at that load.

It prints batches/s and frames/s accepted, frames/s turned into records end to end (accepted
frames / time from the first upload to the last batch's records), p50/p95 upload latency,
p50/p95 latency from upload to records, and the records lost and duplicated, counted in the
database against the faces each uploaded frame holds (must be 0). Exits 1 on any loss,
duplication, frame left undeleted or failed upload.

    .venv/bin/python benchmarks/ingest.py                     # saturation, 60 s, 40 phones
    .venv/bin/python benchmarks/ingest.py --rate 150 --duration 60
    .venv/bin/python benchmarks/ingest.py --web-workers 3 --worker-processes 2 --json

Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust) and Redis at 127.0.0.1:6379, as `make test`.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.stack import (  # noqa: E402
    Load, Paused, exit_cleanly_on_sigterm, Stack, StackOptions, frame_pool, machine_note, summary, verify, wait_processed,
)


def stack_arguments(parser: argparse.ArgumentParser, *, redis_db: int) -> None:
    parser.add_argument("--devices", type=int, default=40, help="simulated phones (one patient each)")
    parser.add_argument("--batch-size", type=int, default=10, help="frames per batch")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--web-threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument("--worker-processes", type=int, default=2, help="Celery worker processes (--concurrency)")
    parser.add_argument("--prefetch", type=int, default=1, help="CELERY_WORKER_PREFETCH_MULTIPLIER")
    parser.add_argument("--pool-size", type=int, default=200, help="distinct jittered frames to draw from")
    parser.add_argument("--redis-db", type=int, default=redis_db, help="Redis database number for broker and cache")
    parser.add_argument("--drain-timeout", type=float, default=600, help="seconds to wait for the backlog")
    parser.add_argument("--logs", type=Path, help="keep the server logs in this folder")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")


def stack_options(args, label: str, *, beat: bool = False) -> StackOptions:
    return StackOptions(label=label, web_workers=args.web_workers, web_threads=args.web_threads,
                        worker_processes=args.worker_processes, prefetch=args.prefetch, beat=beat,
                        redis_db=args.redis_db)


def run(args) -> dict:
    pool = frame_pool(args.pool_size)
    with tempfile.TemporaryDirectory(prefix="moodwatch-ingest-") as scratch:
        workdir = args.logs or Path(scratch)
        with Stack(stack_options(args, "ingest"), workdir) as stack:
            phones = stack.phones(args.devices)
            with Paused(args.pause_pid):
                machine_before = machine_note()
                cpu_before = stack.cpu()
                load = Load(phones, pool, batch_size=args.batch_size, duration=args.duration, rate=args.rate,
                            max_batches=args.max_batches).run()
                drained = wait_processed(stack.database_url, [s.batch_id for s in load.sent],
                                         timeout=args.drain_timeout)
                cpu_after = stack.cpu()
            verdict = verify(stack.database_url, load.sent, pool)
            errors = stack.error_lines()
            machine_after = machine_note()
    figures = summary(load, verdict)
    figures.update({
        "mode": f"open loop, {args.rate:g} frames/s offered" if args.rate else "closed loop (saturation)",
        "devices": args.devices, "batch_size": args.batch_size, "duration_s": args.duration,
        "web_workers": args.web_workers, "web_threads": args.web_threads,
        "worker_processes": args.worker_processes, "prefetch": args.prefetch,
        "drained": drained, "failures_sample": load.failed[:5],
        "log_error_lines": sum(len(v) for v in errors.values()), "log_errors_sample": [l for v in errors.values() for l in v][:5],
        "cpu_ms_per_frame": cpu_per_frame(cpu_before, cpu_after, verdict.frames_accepted),
        "machine_before": machine_before, "pause_pid": args.pause_pid, "machine_after": machine_after,
    })
    return figures


def cpu_per_frame(before: dict, after: dict, frames: int) -> dict:
    """CPU milliseconds each part spent per accepted frame: a figure that other jobs on the machine
    do not distort (they slow the wall clock, not the work), and that bounds the capacity of
    idle cores. PostgreSQL backends that closed during the run are not counted."""
    per = {k: round((after[k] - before[k]) * 1000 / max(frames, 1), 2) for k in after}
    per["server_total"] = round(sum(v for k, v in per.items() if k not in ("load_generator", "worker_master")), 2)
    return per


def violations(figures: dict) -> list[str]:
    problems = []
    for key in ("records_lost", "records_duplicated", "batches_not_done", "frames_left",
                "batches_with_frames_not_deleted", "upload_failures"):
        if figures[key]:
            problems.append(f"{key} = {figures[key]}")
    if not figures["drained"]:
        problems.append("the backlog was not processed within --drain-timeout")
    if not figures["batches_accepted"]:
        problems.append("no batch was accepted")
    return problems


def report(figures: dict) -> str:
    f = figures
    m0, m1 = f["machine_before"], f["machine_after"]
    return "\n".join([
        f"{f['mode']}: {f['devices']} phones, {f['batch_size']}-frame batches, {f['duration_s']:g} s; "
        f"gunicorn {f['web_workers']}x{f['web_threads']}, Celery {f['worker_processes']} processes "
        f"(prefetch {f['prefetch']}); {m0['cpus']} CPUs, load average {m0['loadavg_1m']} -> {m1['loadavg_1m']}, "
        f"training job: {m0['training_job']}",
        f"  accepted:        {f['batches_per_s_accepted']} batches/s, {f['frames_per_s_accepted']} frames/s "
        f"({f['batches_accepted']} batches, {f['frames_accepted']} frames in {f['upload_seconds']} s; "
        f"{f['upload_retries']} retries, {f['upload_failures']} failures)",
        f"  end to end:      {f['frames_per_s_end_to_end']} frames/s turned into records "
        f"(first upload -> last batch's records; backlog drained {f['drain_seconds']} s after the last upload)",
        f"  upload latency:  p50 {f['upload_latency_p50_ms']} ms, p95 {f['upload_latency_p95_ms']} ms",
        f"  upload->records: p50 {f['upload_to_records_p50_s']} s, p95 {f['upload_to_records_p95_s']} s "
        f"(queue wait p50 {f['queue_wait_p50_s']} s, p95 {f['queue_wait_p95_s']} s, first batch "
        f"{f['first_batch_queue_wait_s']} s; processing p50 {f['processing_p50_s']} s, p95 {f['processing_p95_s']} s)",
        f"  records:         {f['records_found']} found, {f['records_expected']} expected "
        f"({f['frames_with_face']} frames with a face); lost {f['records_lost']}, duplicated {f['records_duplicated']}",
        f"  CPU per frame:   " + ", ".join(f"{k} {v} ms" for k, v in f["cpu_ms_per_frame"].items()),
        f"  frames left:     {f['frames_left']} (batches not done: {f['batches_not_done']}, "
        f"done but frames kept: {f['batches_with_frames_not_deleted']}); ERROR lines in logs: {f['log_error_lines']}",
    ])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60, help="seconds of uploading")
    parser.add_argument("--rate", type=float, help="frames/s offered in total (open loop); default: saturation")
    parser.add_argument("--max-batches", type=int, help="stop after this many batches")
    parser.add_argument("--pause-pid", type=int,
                        help="SIGSTOP this process (e.g. a training job) while the load runs, SIGCONT it after")
    stack_arguments(parser, redis_db=12)
    args = parser.parse_args(argv)
    exit_cleanly_on_sigterm()
    figures = run(args)
    problems = violations(figures)
    figures["violations"] = problems
    print(json.dumps(figures) if args.json else report(figures))
    for problem in problems:
        print(f"VIOLATION: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
