"""The deployment commands in README.md stay true: their flags exist, and the benchmark runs."""
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from clients.simulator.cli import parser as simulator_parser

ROOT = Path(__file__).resolve().parents[2]


def readme_commands(program: str) -> list[list[str]]:
    """Arguments of every README command (in code blocks or inline code) that runs `program`."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.DOTALL) + re.findall(r"`([^`\n]+)`", text)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if program in line:
                words = shlex.split(line)
                commands.append(words[words.index(program) + 1:])
    return commands


def test_every_simulator_command_in_the_readme_uses_real_options():
    commands = readme_commands("clients.simulator")
    assert len(commands) >= 3
    for args in commands:
        options = simulator_parser().parse_args(args)  # exits (SystemExit) on an unknown option
        assert options.server.startswith("http")


def test_the_readme_documents_every_simulator_option():
    readme = (ROOT / "README.md").read_text()
    options = [a.option_strings[0] for a in simulator_parser()._actions if a.option_strings and a.dest != "help"]
    undocumented = [o for o in options if f"`{o}`" not in readme and f" {o} " not in readme]
    assert not undocumented or set(undocumented) <= {"--label", "--max-side", "--jpeg-quality", "--retries",
                                                      "--backoff", "--backoff-max", "--poll-timeout", "--no-progress"}


@pytest.mark.slow
@pytest.mark.worker
def test_the_pipeline_benchmark_in_the_readme_runs_and_reports_what_it_measured():
    [args] = [a for a in readme_commands("benchmarks/bench_pipeline.py") if "--concurrency" in a]
    small = ["--frames", "6", "--batch-size", "3", "--concurrency", "1", "--web-workers", "1", "--json"]
    result = subprocess.run([sys.executable, "benchmarks/bench_pipeline.py", *small], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["frames"] == 6 and figures["batches"] == 2
    assert figures["records"] >= figures["frames_with_face"] > 0
    assert figures["end_to_end_frames_per_s"] > 0 and figures["upload_frames_per_s"] > 0
    assert 0 <= figures["batch_latency_s"]["median"] <= figures["batch_latency_s"]["max"]
    assert {"--frames", "--batch-size", "--concurrency"} <= set(args)
