"""The Docker image, checked without a Docker engine: the Dockerfile as BuildKit parses it, the
build context .dockerignore leaves, and the serving requirements it installs.
"""
import fnmatch
import json
import subprocess
import sys

import dockerfile
import pytest

from tests.deploy.requirements_files import ROOT, pinned_version, pins, serving_distributions

BUILD_TOOLS = ("gcc", "g++", "build-essential", "make", "cmake", "clang", "python3-dev", "libpq-dev")


def stages() -> list[list]:
    """The Dockerfile's instructions, split into build stages (each starts at a FROM)."""
    result = []
    for command in dockerfile.parse_file(str(ROOT / "Dockerfile")):
        if command.cmd == "FROM":
            result.append([])
        if result:
            result[-1].append(command)
    return result


def instructions(stage, name):
    return [c for c in stage if c.cmd == name]


def test_the_image_is_built_in_stages_and_the_final_stage_only_copies_the_built_results():
    build, runtime = stages()[0], stages()[-1]
    assert len(stages()) >= 2
    assert "build" in build[0].value and "runtime" in runtime[0].value
    copies = instructions(runtime, "COPY")
    assert copies and all("--from=build" in c.flags for c in copies), "nothing comes from the context directly"
    runtime_runs = " ".join(" ".join(c.value) for c in instructions(runtime, "RUN"))
    assert "pip install" not in runtime_runs and "apt-get" not in runtime_runs


def test_the_base_image_is_a_slim_python_and_no_build_tools_are_installed_anywhere():
    [arg] = [c for c in dockerfile.parse_file(str(ROOT / "Dockerfile")) if c.cmd == "ARG"]
    assert arg.value[0].startswith("PYTHON_IMAGE=python:3.11-slim")
    every_run = " ".join(" ".join(c.value) for stage in stages() for c in instructions(stage, "RUN"))
    assert not [tool for tool in BUILD_TOOLS if f" {tool} " in f" {every_run} "]
    assert "--only-binary=:all:" in every_run, "wheels only: no compiler can be needed"


def test_the_server_runs_as_an_unprivileged_user():
    runtime = stages()[-1]
    [user] = instructions(runtime, "USER")
    assert user.value[0] not in ("root", "0")
    assert instructions(runtime, "CMD")[0].value[0] == "gunicorn"


def test_every_server_in_the_image_runs_under_tini_so_a_stop_during_start_up_is_not_lost():
    build, runtime = stages()[0], stages()[-1]
    [entrypoint] = instructions(runtime, "ENTRYPOINT")
    assert entrypoint.value[:2] == ("/usr/bin/tini", "--")
    assert any("/usr/bin/tini" in c.value for c in instructions(runtime, "COPY"))
    build_runs = " ".join(" ".join(c.value) for c in instructions(build, "RUN"))
    assert "install" in build_runs and " tini" in build_runs, "tini comes from Debian's package"


def test_no_secret_is_baked_into_the_image():
    runtime = stages()[-1]
    env = dict(zip(*[iter(instructions(runtime, "ENV")[0].value)] * 2))
    assert not {name for name in env if "SECRET" in name or "PASSWORD" in name or name.endswith("_URL")}
    assert env["DJANGO_ENV"] == "production", "the image fails closed: no default secret, DEBUG off"
    for stage in stages():
        assert not [c for c in stage if c.cmd in ("ENV", "ARG") and "SECRET_KEY" in " ".join(c.value)]
    ignored = (ROOT / ".dockerignore").read_text().split()
    for secret_file in (".env", ".env.production", ".git"):
        assert excluded(secret_file, ignored), f"{secret_file} would be sent into the build"


def excluded(path: str, patterns: list[str]) -> bool:
    """.dockerignore semantics, enough for these checks: the last matching pattern wins; '!' re-includes."""
    verdict = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(p, pattern) or fnmatch.fnmatchcase(p, pattern.replace("**/", "*/"))
               or (pattern.startswith("**/") and fnmatch.fnmatchcase(parts[-1], pattern[3:])) for p in prefixes):
            verdict = not negate
    return verdict


def test_the_build_context_holds_the_server_code_and_model_but_not_tests_venvs_or_training_runs():
    ignored = (ROOT / ".dockerignore").read_text().split()
    needed = ["manage.py", "backend/settings.py", "inference/estimator.py", "inference/models/model_card.json",
              "inference/models/mood_mini_xception.tflite", "profiling/stages.py", "dashboard/__init__.py",
              "requirements-serve.txt", "requirements-serve-nodeps.txt"]
    assert not [p for p in needed if excluded(p, ignored)]
    for path in needed:
        assert (ROOT / path).exists(), path
    unwanted = [".venv/bin/python", "runs/full/checkpoint", "tests/conftest.py", "var/db.sqlite3", ".env",
                "clients/simulator/cli.py", "benchmarks/ingest.py",
                "backend/__pycache__/settings.cpython-311.pyc", "inference/models/mood_mini_xception.keras",
                "training/train.py", "training/__main__.py"]
    assert all(excluded(p, ignored) for p in unwanted)


def test_the_build_context_holds_only_the_npm_files_the_pages_load():
    """The image build has no node: node_modules/ (from `npm ci` on the host) goes in, but only the
    ES modules and the two WASM builds LiteRT.js picks without threads or JSPI, and Plotly's bundle."""
    ignored = (ROOT / ".dockerignore").read_text().split()
    core = "node_modules/@litertjs/core"
    plotly = "node_modules/plotly.js-basic-dist-min"
    needed = [f"{core}/dist/index.js", f"{core}/dist/index.js.map", "node_modules/@litertjs/wasm-utils/dist/index.js",
              f"{core}/wasm/litert_wasm_internal.js", f"{core}/wasm/litert_wasm_internal.wasm",
              f"{core}/wasm/litert_wasm_compat_internal.js", f"{core}/wasm/litert_wasm_compat_internal.wasm",
              f"{plotly}/plotly-basic.min.js"]
    assert not [p for p in needed if excluded(p, ignored)]
    unwanted = [f"{core}/wasm/litert_wasm_threaded_internal.wasm", f"{core}/wasm/litert_wasm_jspi_internal.wasm",
                f"{core}/package.json", "node_modules/.package-lock.json", "node_modules/other/index.js",
                f"{plotly}/package.json", f"{plotly}/README.md"]
    assert all(excluded(p, ignored) for p in unwanted)


def test_the_serving_requirements_use_the_same_pins_as_requirements_txt_and_no_tensorflow():
    full = pins(ROOT / "requirements.txt")
    for name in ("requirements-serve.txt", "requirements-serve-nodeps.txt"):
        for key, requirement in pins(ROOT / name).items():
            assert key in full, f"{name}: {key} is not in requirements.txt"
            assert pinned_version(requirement) == pinned_version(full[key]), f"{name}: {key} pinned differently"
            assert requirement.extras == full[key].extras
    assert not {"tensorflow", "tensorflow-cpu", "keras", "scikit-learn"} & serving_distributions()


# The server's start-up path, run as the image would: every package that requirements-serve*.txt
# does not install is made unimportable first, so an optional import (try: import pygments) is
# skipped as it would be there, and a required one fails loudly.
SERVING_PATH = r"""
import json, sys
from importlib.machinery import PathFinder
from importlib.metadata import packages_distributions
from packaging.utils import canonicalize_name

allowed = set(json.loads(sys.argv[2]))
LEFT_OUT = {"tests", "benchmarks", "training"}  # folders .dockerignore keeps out of the image
LEFT_OUT_CLIENT = "clients.simulator"  # the patient app (clients.patient_app) is in the image
owners = packages_distributions()
blocked = []

class NotInTheImage:
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        dists = {canonicalize_name(d) for d in owners.get(top, [])}
        if (dists and not dists & allowed) or top in LEFT_OUT or name.startswith(LEFT_OUT_CLIENT):
            blocked.append(top)
            raise ModuleNotFoundError(f"No module named {top!r} (not installed in the image)", name=top)
        return None

sys.meta_path.insert(0, NotInTheImage())
import django
django.setup()
from django.urls import get_resolver
from django.core.management import call_command
get_resolver().url_patterns                      # every URLconf and view module
from backend.celery import app
app.loader.import_default_modules()              # every task module, as a worker loads them
from backend.ingest.estimator import estimator_get
faces = estimator_get().estimate(open(sys.argv[1], "rb").read())   # the model, on a real photo
assert faces, "no face found"
call_command("check")
print(json.dumps({"modules": sorted(sys.modules), "blocked": sorted(set(blocked))}))
"""


@pytest.fixture(scope="module")
def serving_run(sample_images_dir) -> dict:
    allowed = json.dumps(sorted(serving_distributions()))
    result = subprocess.run([sys.executable, "-c", SERVING_PATH, str(sample_images_dir / "obama1.jpg"), allowed],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (
        "the server cannot start with only the image's packages (add what is missing to "
        "requirements-serve.txt, same pin as requirements.txt):\n" + result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_server_starts_and_runs_the_model_with_only_the_packages_the_image_installs(serving_run):
    tops = {m.split(".")[0] for m in serving_run["modules"]}
    assert "ai_edge_litert" in tops, "the model ran on LiteRT"
    assert {"django", "rest_framework", "celery", "cv2"} <= tops


def test_the_serving_path_never_imports_tensorflow(serving_run):
    tops = {m.split(".")[0] for m in serving_run["modules"]}
    assert not {"tensorflow", "keras", "sklearn", "scipy"} & tops
    assert not {"tensorflow", "keras"} & set(serving_run["blocked"]), "not even tried"
