"""Every script in benchmarks/ explains its options: `--help` prints them and exits 0.

argparse formats each help text with %-style placeholders, so a literal percent sign in one
(for instance a rate written as "80%") makes `--help` crash instead of printing."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p for p in (ROOT / "benchmarks").glob("*.py") if "argparse" in p.read_text())


def test_there_are_benchmark_scripts_with_options():
    assert {"ingest.py", "soak.py"} <= {p.name for p in SCRIPTS}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_the_benchmark_script_prints_its_help_and_exits_0(script):
    result = subprocess.run([sys.executable, str(script), "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage:" in result.stdout and "Traceback" not in result.stderr
