"""The README and the documents in docs/ stay true: the commands they show have real flags, the
benchmark they quote runs, and every relative link between them resolves."""
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from clients.simulator.cli import parser as simulator_parser

ROOT = Path(__file__).resolve().parents[2]
# Where each topic lives: the README is the front page, the details are in docs/.
API_DOC = ROOT / "docs" / "api.md"  # device API, device simulator, clinician API
OPERATIONS_DOC = ROOT / "docs" / "operations.md"  # configuration, deployment, scaling
DOCUMENTS = [ROOT / "README.md", ROOT / "backend" / "MODELS.md", *sorted((ROOT / "docs").glob("*.md"))]


def doc_commands(program: str, doc: Path) -> list[list[str]]:
    """Arguments of every command in `doc` (in code blocks or inline code) that runs `program`."""
    text = doc.read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.DOTALL) + re.findall(r"`([^`\n]+)`", text)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if program in line:
                words = shlex.split(line)
                commands.append(words[words.index(program) + 1:])
    return commands


def test_every_simulator_command_in_the_api_doc_uses_real_options():
    commands = doc_commands("clients.simulator", API_DOC)
    assert len(commands) >= 3
    for args in commands:
        options = simulator_parser().parse_args(args)  # exits (SystemExit) on an unknown option
        assert options.server.startswith("http")


def test_the_api_doc_documents_every_simulator_option():
    doc = API_DOC.read_text()
    options = [a.option_strings[0] for a in simulator_parser()._actions if a.option_strings and a.dest != "help"]
    undocumented = [o for o in options if f"`{o}`" not in doc and f" {o} " not in doc]
    assert not undocumented or set(undocumented) <= {"--label", "--max-side", "--jpeg-quality", "--retries",
                                                      "--backoff", "--backoff-max", "--poll-timeout", "--no-progress"}


@pytest.mark.slow
@pytest.mark.worker
def test_the_pipeline_benchmark_in_the_operations_doc_runs_and_reports_what_it_measured():
    [args] = [a for a in doc_commands("benchmarks/bench_pipeline.py", OPERATIONS_DOC) if "--concurrency" in a]
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


def test_the_readme_shows_the_two_commands_and_the_makefile_has_them():
    readme = (ROOT / "README.md").read_text()
    [block] = re.findall(r"## Two commands\n\n```bash\n(.*?)```", readme, re.DOTALL)
    assert [line.split("#", 1)[0].strip() for line in block.splitlines()] == ["make run", "make test"]
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    assert {"run", "test"} <= targets


def github_anchor(heading: str) -> str:
    """The id GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.DOTALL)  # a "# comment" in code is no heading
    return {github_anchor(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)}


def test_every_relative_link_in_the_readme_and_the_docs_resolves():
    broken = []
    for doc in DOCUMENTS:
        text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.DOTALL)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            resolved = (doc.parent / path).resolve() if path else doc
            if not resolved.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, broken
    assert (ROOT / "docs" / "dashboard.png").is_file()
