"""benchmarks/stage_profile.py: stage deltas, statement kinds and the per-frame table."""
from collections import Counter

from benchmarks.stage_profile import STAGES, UNMARKED, format_rows, stage_deltas, stage_rows, statement_stage


def test_stage_deltas_are_taken_between_two_snapshots_and_new_stages_count_from_zero():
    before = {"decode": [1.0, 10], "claim": [0.5, 10]}
    after = {"decode": [1.75, 25], "claim": [0.5, 10], "detection": [0.2, 15]}
    assert stage_deltas(before, after) == {"decode": (0.75, 15), "claim": (0.0, 0), "detection": (0.2, 15)}


def test_the_unmarked_rest_of_a_process_group_is_its_cpu_minus_its_stages():
    stages = {"web": {"validation": (0.5, 100)}, "worker": {"decode": (1.0, 200), "detection": (2.0, 100)}}
    cpu = {"web": 2.0, "worker": 4.5, "worker_master": 0.5, "postgres": 0.8}
    rows = {(r["process"], r["stage"]): r for r in stage_rows(stages, cpu, frames=1000, statements=None)}
    assert rows[("web", "validation")]["cpu_ms_per_frame"] == 0.5
    assert rows[("web", UNMARKED["web"])]["cpu_ms_per_frame"] == 1.5
    assert rows[("worker", "decode")]["calls_per_frame"] == 0.2
    # 4.5 ms of the worker group, of which 0.5 is its master (a row of its own) and 3.0 in stages
    assert rows[("worker", UNMARKED["worker"])]["cpu_ms_per_frame"] == 1.0
    assert rows[("worker master", "Celery consumer")]["cpu_ms_per_frame"] == 0.5
    worker_stages = [r["stage"] for r in stage_rows(stages, cpu, 1000, None) if r["process"] == "worker"]
    assert worker_stages == STAGES["worker"] + [UNMARKED["worker"]]


def test_postgresql_statements_are_sorted_into_the_stages_that_send_them():
    assert statement_stage('UPDATE "ingest_framebatch" SET "status" = $1, "claimed_at" = $2') == "claim"
    assert statement_stage('SELECT "ingest_frame"."index" AS "index", "ingest_frame"."captured_at" AS "captured_at", '
                           '"ingest_frame"."data" AS "data" FROM "ingest_frame"') == "frame read"
    assert statement_stage('INSERT INTO "ingest_frame" ("batch_id") VALUES ($1)') == "frame storage"
    assert statement_stage('SELECT $2 FROM ONLY "public"."ingest_framebatch" x WHERE "id" = $1 FOR KEY SHARE OF x') \
        == "frame storage"
    assert statement_stage('INSERT INTO "moods_moodrecord" ("patient_id") VALUES ($1)') == "record insert"
    assert statement_stage("SELECT $1") == "connection health checks"
    assert statement_stage("COMMIT") == "transaction control"
    assert statement_stage("VACUUM something") == "other"


def test_the_table_shows_execution_time_for_statements_and_cpu_for_stages():
    rows = stage_rows({"web": {}, "worker": {}}, {"web": 1.0, "worker": 2.0}, 10,
                      (Counter({"claim": 5.0}), Counter({"claim": 10})))
    table = format_rows(rows)
    assert "| postgres | claim (statement execution time) | 0.5 (execution) | 1.0 |" in table
    assert f"| web | {UNMARKED['web']} | 1.0 |  |" in table
