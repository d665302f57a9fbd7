"""inference/ is what a worker and a device client run: it serves on LiteRT and never reaches into
the offline packages (training/, benchmarks/), which the image leaves out. Checked on the source,
so that an import hidden inside a function is caught too."""
import ast
from pathlib import Path

import pytest

INFERENCE = Path(__file__).resolve().parents[2] / "inference"
# Nor Django or the backend: the backend reads the moods from here (inference.labels.MOODS builds
# backend.moods.models.Mood), never the other way round.
FORBIDDEN = {"tensorflow", "keras", "tf_keras", "sklearn", "training", "benchmarks", "django", "backend"}


def imported_tops(path: Path) -> set[str]:
    tops = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            tops |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.add(node.module.split(".")[0])
    return tops


def test_the_checker_sees_imports_inside_functions(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    import tensorflow as tf\n    from training.train import train\n")
    assert {"tensorflow", "training"} <= imported_tops(sample)


@pytest.mark.parametrize("path", sorted(INFERENCE.rglob("*.py")), ids=lambda p: p.name)
def test_no_inference_module_imports_tensorflow_or_the_offline_packages(path):
    assert not imported_tops(path) & FORBIDDEN
