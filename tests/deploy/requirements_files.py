"""Reading the pinned requirement files and the installed distributions they bring in."""
from __future__ import annotations

from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def pins(path: Path) -> dict[str, Requirement]:
    """{canonical name: requirement} for each requirement line (comments and blanks skipped)."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            found[canonicalize_name(requirement.name)] = requirement
    return found


def pinned_version(requirement: Requirement) -> str:
    [spec] = list(requirement.specifier)
    assert spec.operator == "==", f"{requirement} is not pinned with =="
    return spec.version


def closure(roots: list[Requirement], *, follow_dependencies: bool = True) -> set[str]:
    """Canonical names of the roots and (optionally) everything they require, as installed here."""
    seen: set[str] = set()
    todo = [(canonicalize_name(r.name), set(r.extras)) for r in roots]
    while todo:
        name, extras = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if not follow_dependencies:
            continue
        for line in metadata.requires(name) or []:
            dependency = Requirement(line)
            environments = [{"extra": extra} for extra in extras | {""}]
            if dependency.marker is None or any(dependency.marker.evaluate(env) for env in environments):
                todo.append((canonicalize_name(dependency.name), set(dependency.extras)))
    return seen


def serving_distributions() -> set[str]:
    """What `pip install -r requirements-serve.txt` + `--no-deps -r requirements-serve-nodeps.txt` installs."""
    normal = closure(list(pins(ROOT / "requirements-serve.txt").values()))
    no_deps = closure(list(pins(ROOT / "requirements-serve-nodeps.txt").values()), follow_dependencies=False)
    return normal | no_deps
