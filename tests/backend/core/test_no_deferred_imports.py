"""No module of the platform imports another of its modules inside a function to dodge an import loop
(issue 27): the layers of docs/architecture.md are enforced by import-linter, which only sees what a
module imports, so an import hidden in a function body would be a loop it cannot report.

Allowed: an app's `ready()` (Django's place for imports made for their side effects: signal
receivers, tasks registered by name), and the lazy loads listed below, each for a stated reason
that is not a loop."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("backend", "dashboard")
PROJECT_TOPS = {"backend", "dashboard", "inference", "profiling", "training", "clients"}

# (file, module imported) -> why it is imported inside a function.
LAZY_LOADS = {
    ("backend/ingest/services.py", ".estimator"): "numpy and LiteRT stay out of the web process",
    ("backend/ingest/tasks.py", ".estimator"): "numpy and LiteRT stay out of the web process",
    ("backend/demo/services.py", ".replay"): "OpenCV and numpy only when demo frames are written",
    # prometheus_client picks its storage (PROMETHEUS_MULTIPROC_DIR) when imported: only once settings are loaded
    ("backend/celery.py", "backend.core"): "backend.core.metrics after Django's settings, in the worker",
    ("backend/ingest/model_views.py", ".model_manifest"): "numpy only once a phone asks for the model manifest",
}


def deferred_project_imports(path: Path) -> list[tuple[str, int]]:
    """(module, line) of each import of a project module made inside a function, other than in ready()."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)):
        if function.name == "ready" and path.name == "apps.py":
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                if node.level or module.split(".")[0] in PROJECT_TOPS:
                    found.append((module, node.lineno))
            elif isinstance(node, ast.Import):
                found += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] in PROJECT_TOPS]
    return found


def test_the_checker_finds_an_import_hidden_in_a_function(tmp_path):
    sample = tmp_path / "services.py"
    sample.write_text("import os\n\ndef enqueue():\n    from .tasks import process_batch\n    import backend.x\n"
                      "    import json\n")
    assert deferred_project_imports(sample) == [(".tasks", 4), ("backend.x", 5)]


def test_the_checker_allows_an_apps_ready(tmp_path):
    sample = tmp_path / "apps.py"
    sample.write_text("class C:\n    def ready(self):\n        from . import tasks\n")
    assert deferred_project_imports(sample) == []


SOURCES = sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_import_inside_a_function_dodges_a_loop(path):
    relative = str(path.relative_to(ROOT))
    hidden = [(module, line) for module, line in deferred_project_imports(path)
              if (relative, module) not in LAZY_LOADS]
    assert hidden == [], f"{relative} imports inside a function: {hidden}"
