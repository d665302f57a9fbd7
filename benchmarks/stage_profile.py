"""Where the ingest stack's CPU goes, by stage: stage timers, PostgreSQL's pg_stat_statements, py-spy.

`benchmarks/ingest.py --profile DIR` uses this module during its saturation phase:
- web and worker run with MOODWATCH_STAGE_TIMES_DIR set, so each process adds up the CPU time
  (time.thread_time) it spends in each stage of STAGES (profiling/stages.py). A stage's CPU per
  frame is its CPU seconds over the phase / frames accepted. What no stage covers (gunicorn,
  Django and DRF around the view; Celery around the task) is the process group's CPU from /proc
  minus its stages. Celery's consumer (the worker's master process) and PostgreSQL get their own rows.
- With pg_stat_statements loaded, PostgreSQL's execution time is split by statement kind.
- py-spy samples every web and worker process for --profile-seconds and keeps the raw stacks
  in DIR (`py-spy record --format raw`) to look inside a stage. Its shares are not CPU shares at
  saturation: a process waiting for a core counts as busy where it woke up.

pg_stat_statements needs `shared_preload_libraries = 'pg_stat_statements'` and a PostgreSQL
restart (see docs/performance.md); without it the table has no per-statement rows.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import psycopg

# Stage names as the code marks them (profiling/stages.py), in the order of a batch's journey.
STAGES = {
    "web": ["device authentication", "upload throttle", "multipart parse", "validation", "frame storage",
            "enqueue", "response"],
    "worker": ["claim", "frame read", "decode", "detection", "classification", "record insert",
               "roll-up upkeep", "frame deletion", "status writes and commit", "alert evaluation"],
}
UNMARKED = {"web": "request handling (gunicorn, Django, DRF, middleware)",
            "worker": "task handling (Celery in the worker process, connection upkeep)"}


# pg_stat_statements: (stage, pattern on the normalised query), first match wins.
STATEMENTS = [
    ("claim", r'^UPDATE "ingest_framebatch" SET "status" = \$1, "claimed_at"'),
    ("frame read", r'^SELECT "ingest_frame"\."index"( AS "index")?, "ingest_frame"\."captured_at"( AS "captured_at")?, '
                   r'"ingest_frame"\."data"'),
    ("frame storage", r'INSERT INTO "ingest_frame"|INSERT INTO "ingest_framebatch"'
                      r'|FROM ONLY "public"\."ingest_framebatch"'),  # the frames' foreign-key checks
    ("record insert", r'INSERT INTO "moods_moodrecord"|FROM ONLY "public"\."patients_patient"'),
    ("frame deletion", r'DELETE FROM "ingest_frame"'),
    ("roll-up upkeep", r'rollups_|SELECT "ingest_frame"\."index"( AS "index")?, "ingest_frame"\."captured_at"'),
    ("device authentication", r'"devices_device"'),
    ("alert evaluation", r'"alerts_|"moods_moodrecord"'),
    ("status writes", r'"ingest_framebatch"'),
    ("connection health checks", r"^SELECT \$1$"),
    ("transaction control", r"^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)"),
    ("other", r""),
]


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed in this environment (pip install -r requirements.txt)")
    return found


class Sampler:
    """py-spy on each process of each group for `seconds`, raw stacks into outdir; start() then wait()."""

    def __init__(self, pids: dict[str, list[int]], seconds: float, outdir: Path, rate: int = 100):
        self.pids, self.seconds, self.outdir, self.rate = pids, seconds, outdir, rate
        self.running: list[subprocess.Popen] = []

    def start(self) -> None:
        self.outdir.mkdir(parents=True, exist_ok=True)
        for group, pids in self.pids.items():
            for pid in pids:
                out = self.outdir / f"py-spy-{group}-{pid}.txt"
                command = [py_spy(), "record", "--pid", str(pid), "--duration", str(int(self.seconds)),
                           "--rate", str(self.rate), "--nonblocking", "--format", "raw", "--output", str(out)]
                self.running.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def wait(self) -> None:
        for process in self.running:
            process.wait(timeout=self.seconds + 60)


def stage_deltas(before: dict, after: dict) -> dict[str, tuple[float, int]]:
    """(CPU seconds, calls) per stage between two profiling.stages.read_totals snapshots."""
    return {name: (seconds - before.get(name, [0.0, 0])[0], calls - before.get(name, [0.0, 0])[1])
            for name, (seconds, calls) in after.items()}


# --- pg_stat_statements ----------------------------------------------------------------------------

def statement_stage(query: str) -> str:
    """The stage that sends a (normalised) statement, by STATEMENTS."""
    return next(stage for stage, pattern in STATEMENTS if re.search(pattern, query))


def statements_available(database_url: str) -> bool:
    with psycopg.connect(database_url, autocommit=True) as connection:
        loaded = connection.execute("SHOW shared_preload_libraries").fetchone()[0]
        if "pg_stat_statements" not in loaded:
            return False
        connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        return True


def statements_reset(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("SELECT pg_stat_statements_reset()")


def statements_by_stage(database_url: str) -> tuple[Counter, Counter]:
    """PostgreSQL execution milliseconds and calls per stage, for this database since the reset."""
    times, calls = Counter(), Counter()
    with psycopg.connect(database_url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT query, calls, total_exec_time FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
            " WHERE d.datname = current_database()"
        ).fetchall()
    for query, n, total_ms in rows:
        stage = statement_stage(query)
        times[stage] += total_ms
        calls[stage] += n
    return times, calls


# --- the table -------------------------------------------------------------------------------------

def stage_rows(stages: dict[str, dict], cpu_ms_per_frame: dict, frames: int,
               statements: tuple[Counter, Counter] | None) -> list[dict]:
    """Rows (process, stage, CPU ms a frame, calls a frame) for the table, in a batch's order."""
    per_frame = max(frames, 1)
    rows = []
    for group in ("web", "worker"):
        group_ms = cpu_ms_per_frame.get(group, 0.0) - (cpu_ms_per_frame.get("worker_master", 0.0)
                                                        if group == "worker" else 0.0)
        marked = 0.0
        for name in STAGES[group]:
            seconds, calls = stages.get(group, {}).get(name, (0.0, 0))
            marked += seconds * 1000 / per_frame
            rows.append({"process": group, "stage": name, "cpu_ms_per_frame": round(seconds * 1000 / per_frame, 3),
                         "calls_per_frame": round(calls / per_frame, 2)})
        rows.append({"process": group, "stage": UNMARKED[group],
                     "cpu_ms_per_frame": round(max(group_ms - marked, 0.0), 3), "calls_per_frame": None})
    rows.append({"process": "worker master", "stage": "Celery consumer", "calls_per_frame": None,
                 "cpu_ms_per_frame": cpu_ms_per_frame.get("worker_master", 0.0)})
    rows.append({"process": "postgres", "stage": "all backends of the database (CPU from /proc)",
                 "calls_per_frame": None, "cpu_ms_per_frame": cpu_ms_per_frame.get("postgres", 0.0)})
    if statements:
        times, calls = statements
        for name, ms in times.most_common():
            rows.append({"process": "postgres", "stage": f"{name} (statement execution time)",
                         "exec_ms_per_frame": round(ms / per_frame, 3),
                         "calls_per_frame": round(calls[name] / per_frame, 2)})
    return rows


def format_rows(rows: list[dict]) -> str:
    lines = ["| process | stage | CPU ms a frame | calls a frame |", "|---|---|---|---|"]
    for r in rows:
        ms = f"{r['exec_ms_per_frame']} (execution)" if "exec_ms_per_frame" in r else f"{r['cpu_ms_per_frame']}"
        calls = "" if r["calls_per_frame"] is None else r["calls_per_frame"]
        lines.append(f"| {r['process']} | {r['stage']} | {ms} | {calls} |")
    return "\n".join(lines)
