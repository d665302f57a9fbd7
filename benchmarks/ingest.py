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
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import stage_profile  # noqa: E402
from benchmarks.stack import (  # noqa: E402
    Load,
    Paused,
    Stack,
    StackOptions,
    _children,
    exit_cleanly_on_sigterm,
    frame_pool,
    machine_note,
    summary,
    verify,
    wait_processed,
)
from profiling.stages import WRITE_EVERY_S, read_totals  # noqa: E402

STAGE_TIMES_FLUSH_S = 2 * WRITE_EVERY_S + 0.2  # long enough for every process to write its totals


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
                        redis_db=args.redis_db, stage_times=bool(getattr(args, "profile", None)))


def run(args) -> dict:
    pool = frame_pool(args.pool_size)
    with tempfile.TemporaryDirectory(prefix="moodwatch-ingest-") as scratch:
        workdir = args.logs or Path(scratch)
        with Stack(stack_options(args, "ingest"), workdir) as stack:
            phones = stack.phones(args.devices)
            with Paused(args.pause_pid):
                figures, sent = phase(args, stack, phones, pool, rate=args.rate, duration=args.duration)
                if args.steady_fraction and not args.rate:
                    # Then a steady load at that fraction of the capacity just measured: its latency.
                    rate = round(args.steady_fraction * figures["frames_per_s_end_to_end"], 1)
                    figures["steady"], steady_sent = phase(args, stack, phones, pool, rate=rate,
                                                           duration=args.steady_duration)
                    sent += steady_sent
            final = verify(stack.database_url, sent, pool)  # every batch of every phase
            errors = stack.error_lines()
            figures["machine_after"] = machine_note()
    figures.update({
        "devices": args.devices, "batch_size": args.batch_size,
        "web_workers": args.web_workers, "web_threads": args.web_threads,
        "worker_processes": args.worker_processes, "prefetch": args.prefetch, "pause_pid": args.pause_pid,
        "log_error_lines": sum(len(v) for v in errors.values()),
        "log_errors_sample": [line for v in errors.values() for line in v][:5],
    })
    for key in ("records_lost", "records_duplicated", "batches_not_done", "frames_left",
                "batches_with_frames_not_deleted"):
        figures[f"all_phases_{key}"] = getattr(final, key.replace("batches_with_frames_not_deleted",
                                                                  "batches_frames_not_deleted"))
    return figures


def phase(args, stack: Stack, phones, pool, *, rate: float | None, duration: float) -> tuple[dict, list]:
    """One load phase on the running stack, until its backlog is processed; its figures."""
    machine_before = machine_note()
    profiler = Profiler(args, stack) if args.profile and not rate else None
    cpu_before = stack.cpu()
    load = Load(phones, pool, batch_size=args.batch_size, duration=duration, rate=rate,
                max_batches=args.max_batches, max_backlog=args.max_backlog or None,
                database_url=stack.database_url)
    if profiler:
        profiler.start()
    load = load.run()
    drained = wait_processed(stack.database_url, [s.batch_id for s in load.sent], timeout=args.drain_timeout)
    cpu_after = stack.cpu()
    verdict = verify(stack.database_url, load.sent, pool)
    figures = summary(load, verdict)
    if profiler:
        cpu = cpu_per_frame(cpu_before, cpu_after, verdict.frames_accepted)
        figures["profile"] = profiler.finish(cpu, verdict.frames_accepted)
    figures.update({
        "mode": (f"open loop, {rate:g} frames/s offered" if rate else
                 f"closed loop (saturation), backlog held under {args.max_backlog} batches" if args.max_backlog else
                 "closed loop (saturation), unbounded backlog"),
        "duration_s": duration, "drained": drained, "failures_sample": load.failed[:5],
        "cpu_ms_per_frame": cpu_per_frame(cpu_before, cpu_after, verdict.frames_accepted),
        "machine_before": machine_before,
    })
    return figures, load.sent


class Profiler:
    """Stage CPU over the saturation phase (web and worker run with stage timers), pg_stat_statements
    over the phase when PostgreSQL has it, and py-spy stacks for --profile-seconds after --profile-delay."""

    def __init__(self, args, stack: Stack):
        self.args, self.stack = args, stack
        pids = {group: _children(stack.processes[group].pid) for group in ("web", "worker")}
        self.sampler = stage_profile.Sampler(pids, args.profile_seconds, args.profile)
        self.statements = stage_profile.statements_available(stack.database_url)
        self.timer = threading.Timer(args.profile_delay, self.sampler.start)

    def _stage_totals(self) -> dict[str, dict]:
        return {group: read_totals(self.stack.stage_times_dir(group)) for group in ("web", "worker")}

    def start(self) -> None:
        if self.statements:
            stage_profile.statements_reset(self.stack.database_url)
        time.sleep(STAGE_TIMES_FLUSH_S)
        self.before = self._stage_totals()
        self.timer.start()

    def finish(self, cpu_ms_per_frame: dict, frames: int) -> dict:
        self.timer.join()
        self.sampler.wait()
        time.sleep(STAGE_TIMES_FLUSH_S)  # the processes' last totals reach their files
        after = self._stage_totals()
        stages = {group: stage_profile.stage_deltas(self.before[group], after[group]) for group in after}
        statements = stage_profile.statements_by_stage(self.stack.database_url) if self.statements else None
        rows = stage_profile.stage_rows(stages, cpu_ms_per_frame, frames, statements)
        table = stage_profile.format_rows(rows)
        (self.args.profile / "stages.md").write_text(table + "\n")
        return {"rows": rows, "pg_stat_statements": self.statements, "table": table}


def cpu_per_frame(before: dict, after: dict, frames: int) -> dict:
    """CPU milliseconds each part spent per accepted frame: a figure that other jobs on the machine
    do not distort (they slow the wall clock, not the work), and that bounds the capacity of
    idle cores. PostgreSQL backends that closed during the run are not counted."""
    per = {k: round((after[k] - before[k]) * 1000 / max(frames, 1), 2) for k in after}
    per["server_total"] = round(sum(v for k, v in per.items() if k not in ("load_generator", "worker_master")), 2)
    return per


def violations(figures: dict) -> list[str]:
    problems = []
    for name, f in [("", figures)] + ([("steady phase: ", figures["steady"])] if "steady" in figures else []):
        for key in ("upload_failures",):
            if f[key]:
                problems.append(f"{name}{key} = {f[key]}")
        if not f["drained"]:
            problems.append(f"{name}the backlog was not processed within --drain-timeout")
        if not f["batches_accepted"]:
            problems.append(f"{name}no batch was accepted")
    for key in ("records_lost", "records_duplicated", "batches_not_done", "frames_left",
                "batches_with_frames_not_deleted"):
        if figures[f"all_phases_{key}"]:
            problems.append(f"{key} = {figures[f'all_phases_{key}']}")
    if figures["log_error_lines"]:
        problems.append(f"{figures['log_error_lines']} ERROR lines in the logs")
    return problems


def report(figures: dict) -> str:
    f = figures
    lines = [
        f"{f['devices']} phones, {f['batch_size']}-frame batches; gunicorn {f['web_workers']}x{f['web_threads']}, "
        f"Celery {f['worker_processes']} processes (prefetch {f['prefetch']}); {f['machine_before']['cpus']} CPUs",
    ]
    for f_phase in [f] + ([f["steady"]] if "steady" in f else []):
        lines += phase_report(f_phase)
    lines.append(
        f"all phases: records lost {f['all_phases_records_lost']}, duplicated {f['all_phases_records_duplicated']}; "
        f"frames left {f['all_phases_frames_left']}; batches not done {f['all_phases_batches_not_done']}; "
        f"ERROR lines in logs {f['log_error_lines']}")
    return "\n".join(lines)


def phase_report(f: dict) -> list[str]:
    m0 = f["machine_before"]
    return [
        f"{f['mode']}, {f['duration_s']:g} s (load average {m0['loadavg_1m']}, training job: {m0['training_job']})",
        f"  accepted:        {f['batches_per_s_accepted']} batches/s, {f['frames_per_s_accepted']} frames/s "
        f"({f['batches_accepted']} batches, {f['frames_accepted']} frames in {f['upload_seconds']} s; "
        f"{f['upload_retries']} retries, {f['upload_failures']} failures)",
        f"  end to end:      {f['frames_per_s_end_to_end']} frames/s turned into records "
        f"(first upload -> last batch's records; backlog drained {f['drain_seconds']} s after the last upload)",
        f"  upload latency:  p50 {f['upload_latency_p50_ms']} ms, p95 {f['upload_latency_p95_ms']} ms",
        f"  upload->records: p50 {f['upload_to_records_p50_s']} s, p95 {f['upload_to_records_p95_s']} s "
        f"(queue wait p50 {f['queue_wait_p50_s']} s, p95 {f['queue_wait_p95_s']} s; "
        f"processing p50 {f['processing_p50_s']} s, p95 {f['processing_p95_s']} s)",
        f"  records:         {f['records_expected']} expected ({f['frames_with_face']} frames with a face); "
        f"lost {f['records_lost']}, duplicated {f['records_duplicated']}",
        "  CPU per frame:   " + ", ".join(f"{k} {v} ms" for k, v in f["cpu_ms_per_frame"].items() if v or k == "web"),
    ] + ([f"  CPU by stage (stage timers; pg_stat_statements: {f['profile']['pg_stat_statements']}):",
          f["profile"]["table"]] if "profile" in f else [])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60, help="seconds of uploading")
    parser.add_argument("--rate", type=float, help="frames/s offered in total (open loop); default: saturation")
    parser.add_argument("--max-batches", type=int, help="stop after this many batches")
    parser.add_argument("--max-backlog", type=int, default=8,
                        help="saturation: phones wait while this many batches are queued or processing "
                             "(0: no limit, the web accepts as fast as it can)")
    parser.add_argument("--steady-fraction", type=float, default=0.8,
                        help="saturation: then offer this fraction of the measured end-to-end rate, open loop "
                             "(0: skip), to show the latency below capacity")
    parser.add_argument("--steady-duration", type=float, default=60, help="seconds of the steady phase")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="saturation: print CPU per frame by stage (stage timers, pg_stat_statements) and keep "
                             "py-spy stacks of web and worker in DIR; see benchmarks/stage_profile.py")
    parser.add_argument("--profile-delay", type=float, default=10, help="seconds into saturation before sampling")
    parser.add_argument("--profile-seconds", type=float, default=20, help="seconds of sampling")
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
