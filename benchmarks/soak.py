"""Soak: the whole stack under a steady load near capacity for a fixed time, then checks.

Starts gunicorn, a Celery worker and Celery beat (the sweeper, roll-up refresh and alert
evaluation run as deployed) on a scratch PostgreSQL database (see benchmarks/stack.py). --devices
phones, enrolled through the public API, upload --batch-size-frame batches of real 640x360 frames
on fixed schedules, --rate frames/s in total (default: 80% of the end-to-end capacity measured
by a 30 s saturation phase first), for --duration seconds. It samples the RSS of every
web and worker process throughout. Afterwards it checks, and exits 1 if any check fails:

- every accepted frame with a face has exactly one record per face (database against the face
  count of each uploaded frame), no record is duplicated, every accepted batch is done;
- every frame is deleted;
- the RSS of the web and of the worker processes is flat: growth from the end of the warm-up to
  the end of the run within --rss-growth-mib per process (printed at start, after warm-up, end);
- no ERROR, CRITICAL or traceback line in any log, no HTTP 5xx in the access log, no server
  process died or was replaced;
- the load held: at least 95% of the offered frames were accepted, and the backlog left when the
  phones stop is processed within --max-drain seconds.

    .venv/bin/python benchmarks/soak.py                          # 10 minutes at 80% of the capacity measured first
    .venv/bin/python benchmarks/soak.py --duration 30 --rate 40  # the short version `make test` runs

Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust) and Redis at 127.0.0.1:6379, as `make test`.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.ingest import cpu_per_frame, stack_arguments, stack_options  # noqa: E402
from benchmarks.stack import (  # noqa: E402
    Load,
    Stack,
    exit_cleanly_on_sigterm,
    frame_pool,
    machine_note,
    summary,
    verify,
    wait_processed,
)

HTTP_5XX = re.compile(r'" 5\d\d ')
CALIBRATION_SECONDS = 30.0  # without --rate: saturation phase that measures the capacity first
RATE_FRACTION = 0.8  # ... and the soak then offers this fraction of it


def rss_by_process(stack: Stack) -> dict[str, dict[int, int]]:
    """KiB per process of web and worker (the masters and their children)."""
    return {name: pids for name, pids in stack.rss().items() if name in ("web", "worker")}


def mib(kib: int) -> float:
    return round(kib / 1024, 1)


def rss_report(start: dict, warm: dict, end: dict, limit_mib: float) -> tuple[dict, list[str]]:
    """Per service: total MiB at start, after warm-up and at the end; and the processes that grew too much."""
    figures, problems = {}, []
    for service in ("web", "worker"):
        figures[service] = {
            "processes": len(end[service]),
            "start_mib": mib(sum(start[service].values())),
            "warm_mib": mib(sum(warm[service].values())),
            "end_mib": mib(sum(end[service].values())),
        }
        if set(end[service]) != set(warm[service]):
            problems.append(f"{service}: processes changed during the run "
                            f"({sorted(warm[service])} -> {sorted(end[service])}): one died or was replaced")
        for pid, kib in end[service].items():
            growth = mib(kib - warm[service].get(pid, kib))
            figures[service].setdefault("max_growth_mib", 0.0)
            figures[service]["max_growth_mib"] = max(figures[service]["max_growth_mib"], growth)
            if growth > limit_mib:
                problems.append(f"{service} process {pid} grew {growth} MiB (limit {limit_mib})")
    return figures, problems


def run(args) -> dict:
    pool = frame_pool(args.pool_size)
    with tempfile.TemporaryDirectory(prefix="moodwatch-soak-") as scratch:
        workdir = args.logs or Path(scratch)
        with Stack(stack_options(args, "soak", beat=not args.no_beat), workdir) as stack:
            phones = stack.phones(args.devices)
            calibration = None
            if args.rate is None:
                calibration = calibrate(stack, phones, pool, args)
                args.rate = max(1.0, round(RATE_FRACTION * calibration["frames_per_s_end_to_end"], 1))
            machine_before = machine_note()
            rss_start = rss_by_process(stack)
            cpu_before = stack.cpu()
            load = Load(phones, pool, batch_size=args.batch_size, duration=args.duration, rate=args.rate)
            outcome = {}
            runner = threading.Thread(target=lambda: outcome.setdefault("load", load.run()), daemon=True)
            runner.start()
            warmup = min(60.0, args.duration * 0.2)
            runner.join(timeout=warmup)
            rss_warm = rss_by_process(stack)
            samples = [(round(warmup), rss_warm)]
            while runner.is_alive():
                runner.join(timeout=args.sample_every)
                samples.append((round(time.time() - load.started_at), rss_by_process(stack)))
            rss_end = samples[-1][1]
            result = outcome["load"]
            all_sent = result.sent + (calibration["sent"] if calibration else [])
            drain_started = time.monotonic()
            drained = wait_processed(stack.database_url, [s.batch_id for s in all_sent],
                                     timeout=args.max_drain)
            drain_seconds = time.monotonic() - drain_started
            cpu_after = stack.cpu()
            verdict = verify(stack.database_url, result.sent, pool)
            whole = verify(stack.database_url, all_sent, pool)  # calibration batches too
            errors = stack.error_lines()
            http_5xx = [line for line in stack.logs["web"].read_text(errors="replace").splitlines()
                        if HTTP_5XX.search(line)]
            alive = stack.alive()
            machine_after = machine_note()
    figures = summary(result, verdict)
    memory, memory_problems = rss_report(rss_start, rss_warm, rss_end, args.rss_growth_mib)
    offered = args.rate * args.duration
    figures.update({
        "mode": f"soak, open loop, {args.rate:g} frames/s offered",
        "devices": args.devices, "batch_size": args.batch_size, "duration_s": args.duration,
        "web_workers": args.web_workers, "web_threads": args.web_threads,
        "worker_processes": args.worker_processes, "prefetch": args.prefetch, "beat": not args.no_beat,
        "frames_offered": round(offered), "drained": drained, "drain_wait_s": round(drain_seconds, 1),
        "rss": memory, "rss_samples_mib": [(t, {k: mib(sum(v.values())) for k, v in s.items()}) for t, s in samples],
        "log_error_lines": sum(len(v) for v in errors.values()),
        "log_errors_sample": [line for v in errors.values() for line in v][:5],
        "http_5xx": len(http_5xx), "processes_alive": alive, "failures_sample": result.failed[:5],
        "cpu_ms_per_frame": cpu_per_frame(cpu_before, cpu_after, verdict.frames_accepted),
        "machine_before": machine_before, "machine_after": machine_after,
    })
    if calibration:
        figures["calibration"] = {k: v for k, v in calibration.items() if k != "sent"}
    for key in ("records_lost", "records_duplicated", "batches_not_done", "frames_left"):
        figures[key] = max(figures[key], getattr(whole, key))
    figures["records_found"], figures["records_expected"] = whole.records_found, whole.records_expected
    figures["frames_with_face"] = whole.frames_with_face_expected
    figures["violations"] = violations(figures, args) + memory_problems
    return figures


def calibrate(stack: Stack, phones, pool, args) -> dict:
    """Measure the end-to-end capacity right now: a saturation phase with a bounded backlog."""
    load = Load(phones, pool, batch_size=args.batch_size, duration=CALIBRATION_SECONDS, max_backlog=8,
                database_url=stack.database_url).run()
    wait_processed(stack.database_url, [s.batch_id for s in load.sent], timeout=args.max_drain)
    figures = summary(load, verify(stack.database_url, load.sent, pool))
    return {"seconds": CALIBRATION_SECONDS, "frames_per_s_end_to_end": figures["frames_per_s_end_to_end"],
            "sent": load.sent}


def violations(f: dict, args) -> list[str]:
    problems = []
    for key in ("records_lost", "records_duplicated", "batches_not_done", "frames_left",
                "batches_with_frames_not_deleted", "upload_failures", "log_error_lines", "http_5xx"):
        if f[key]:
            problems.append(f"{key} = {f[key]}")
    if not f["processes_alive"]:
        problems.append("a server process exited during the run")
    if not f["drained"]:
        problems.append(f"the backlog was not processed within {args.max_drain:g} s of the last upload "
                        "(the stack did not keep up with the rate)")
    if f["frames_accepted"] < 0.95 * f["frames_offered"]:
        problems.append(f"only {f['frames_accepted']} of {f['frames_offered']} offered frames were accepted")
    if not f["records_found"]:
        problems.append("no mood record was written")
    return problems


def report(f: dict) -> str:
    m0, m1, rss = f["machine_before"], f["machine_after"], f["rss"]
    calibration = (f"capacity measured first: {f['calibration']['frames_per_s_end_to_end']} frames/s end to end "
                   f"in {f['calibration']['seconds']:g} s of saturation; " if "calibration" in f else "")
    lines = [
        calibration + f"{f['mode']}: {f['devices']} phones, {f['batch_size']}-frame batches, {f['duration_s']:g} s; "
        f"gunicorn {f['web_workers']}x{f['web_threads']}, Celery {f['worker_processes']} processes, "
        f"beat {'on' if f['beat'] else 'off'}; {m0['cpus']} CPUs, load average {m0['loadavg_1m']} -> "
        f"{m1['loadavg_1m']}, training job: {m0['training_job']}",
        f"  accepted:        {f['frames_accepted']} of {f['frames_offered']} offered frames "
        f"({f['batches_accepted']} batches, {f['frames_per_s_accepted']} frames/s; {f['upload_retries']} retries, "
        f"{f['upload_failures']} failures; {f['behind_schedule']} batches sent late)",
        f"  end to end:      {f['frames_per_s_end_to_end']} frames/s; backlog at the end processed in "
        f"{f['drain_wait_s']} s",
        f"  upload latency:  p50 {f['upload_latency_p50_ms']} ms, p95 {f['upload_latency_p95_ms']} ms; "
        f"upload->records p50 {f['upload_to_records_p50_s']} s, p95 {f['upload_to_records_p95_s']} s",
        f"  records:         {f['records_found']} found, {f['records_expected']} expected, calibration included "
        f"({f['frames_with_face']} frames with a face); lost {f['records_lost']}, duplicated {f['records_duplicated']}",
        f"  frames left:     {f['frames_left']}; batches not done {f['batches_not_done']}",
    ]
    for service in ("web", "worker"):
        r = rss[service]
        lines.append(f"  RSS {service:6s}      {r['processes']} processes: {r['start_mib']} MiB at start, "
                     f"{r['warm_mib']} after warm-up, {r['end_mib']} at the end "
                     f"(largest growth of one process after warm-up: {r.get('max_growth_mib', 0)} MiB)")
    lines.append(f"  logs:            {f['log_error_lines']} ERROR/CRITICAL/traceback lines, {f['http_5xx']} HTTP 5xx; "
                 f"server processes alive: {f['processes_alive']}")
    cpu = f["cpu_ms_per_frame"]
    lines.append("  CPU per frame:   " + ", ".join(f"{k} {v} ms" for k, v in cpu.items() if v or k == "web"))
    lines.append("  result:          " + ("PASS" if not f["violations"] else "FAIL: " + "; ".join(f["violations"])))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=600, help="seconds of load (default 600)")
    parser.add_argument("--rate", type=float,
                        help="frames/s offered in total (default: first measure the end-to-end capacity with a "
                             f"{CALIBRATION_SECONDS:g} s saturation phase, then offer {RATE_FRACTION * 100:g}%% of it)")
    parser.add_argument("--rss-growth-mib", type=float, default=40,
                        help="largest RSS growth allowed to one process after the warm-up")
    parser.add_argument("--max-drain", type=float, default=60,
                        help="seconds the backlog may take to clear once the phones stop")
    parser.add_argument("--sample-every", type=float, default=10, help="seconds between RSS samples")
    parser.add_argument("--no-beat", action="store_true", help="do not run Celery beat")
    stack_arguments(parser, redis_db=13)
    args = parser.parse_args(argv)
    exit_cleanly_on_sigterm()
    figures = run(args)
    print(json.dumps(figures) if args.json else report(figures))
    for problem in figures["violations"]:
        print(f"VIOLATION: {problem}", file=sys.stderr)
    return 1 if figures["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
