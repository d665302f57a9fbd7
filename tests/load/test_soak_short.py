"""The short soak: benchmarks/soak.py for ~30 s on the real stack, so CI catches a regression.

It runs the script itself (gunicorn, a Celery worker and beat on a scratch PostgreSQL database,
phones enrolled and uploading real frames through the public API) at a modest rate that a busy
2-core CI machine sustains, and asserts the script's own checks plus the figures behind them.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DURATION_S = 30
RATE = 30  # frames/s offered: 3 batches of 10 per second


@pytest.mark.slow
def test_a_30_second_soak_loses_no_record_duplicates_none_deletes_every_frame_and_stays_flat(tmp_path):
    command = [
        sys.executable, "benchmarks/soak.py", "--duration", str(DURATION_S), "--rate", str(RATE),
        "--devices", "12", "--pool-size", "60", "--max-drain", "120", "--sample-every", "5",
        "--logs", str(tmp_path), "--json",
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.stdout.strip(), f"soak.py printed nothing (exit {result.returncode}):\n{result.stderr[-4000:]}"
    figures = json.loads(result.stdout.strip().splitlines()[-1])

    assert figures["violations"] == [], figures["violations"]
    assert result.returncode == 0, result.stderr[-4000:]
    assert figures["frames_accepted"] >= 0.95 * RATE * DURATION_S
    assert figures["records_expected"] > 0
    assert figures["records_found"] == figures["records_expected"]
    assert figures["records_lost"] == 0 and figures["records_duplicated"] == 0
    assert figures["frames_left"] == 0 and figures["batches_not_done"] == 0
    assert figures["log_error_lines"] == 0 and figures["http_5xx"] == 0
    for service in ("web", "worker"):
        assert figures["rss"][service]["processes"] >= 2
        assert figures["rss"][service]["end_mib"] > 0
