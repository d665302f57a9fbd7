"""Hashed, compressed, long-cached static files under `make run` as in production (issue 29, part 6):
the storage links hashed names even with DEBUG on, WhiteNoise answers them gzipped and immutable,
and demo_run collects them only when a source file changed."""
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from django.core.files.base import ContentFile
from django.core.management import CommandError
from django.templatetags.static import static
from django.test import RequestFactory
from whitenoise.middleware import WhiteNoiseMiddleware

from backend.core.static_storage import HashedStaticFilesStorage
from backend.demo.management.commands import demo_run
from clients.patient_app.views import SHELL_FILES
from dashboard.staticfiles import PACKAGE, STATIC_PATH

ROOT = Path(__file__).resolve().parents[2]
YEAR = 365 * 24 * 3600
HASHED_STORAGE = {"staticfiles": {"BACKEND": "backend.core.static_storage.HashedStaticFilesStorage"},
                  "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}


def manifest(folder: Path, paths: dict[str, str]) -> None:
    (folder / "staticfiles.json").write_text(json.dumps({"version": "1.1", "paths": paths, "hash": "x"}))


def test_the_hashed_storage_links_the_hashed_name_even_under_debug(tmp_path, settings):
    settings.DEBUG = True
    manifest(tmp_path, {"app/app.js": "app/app.0123456789ab.js"})
    assert HashedStaticFilesStorage(location=tmp_path, base_url="/static/").url("app/app.js") == \
        "/static/app/app.0123456789ab.js"
    # Django's own manifest storage would link the plain name under DEBUG (why the subclass exists),
    assert ManifestStaticFilesStorage(location=tmp_path, base_url="/static/").url("app/app.js") == "/static/app/app.js"
    # and a file missing from the manifest is an error, not a silently uncached link.
    with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
        HashedStaticFilesStorage(location=tmp_path, base_url="/static/").url("app/other.js")


def test_the_prefix_itself_is_the_static_url_not_a_missing_manifest_entry(tmp_path, settings):
    """static("") (the patient app's service worker) raised under Django's manifest storage: a 500
    for /app/sw.js in production and, once hashed, under `make run`."""
    manifest(tmp_path, {})
    with pytest.raises(ValueError):
        ManifestStaticFilesStorage(location=tmp_path, base_url="/static/").url("", force=True)
    assert HashedStaticFilesStorage(location=tmp_path, base_url="/static/").url("") == "/static/"


def test_the_service_worker_precaches_the_hashed_and_the_plain_names(tmp_path, settings, client):
    settings.DEBUG, settings.STATIC_ROOT, settings.STORAGES = True, tmp_path, HASHED_STORAGE
    manifest(tmp_path, {name: name.replace(".", ".0123456789ab.", 1) for name in SHELL_FILES})
    response = client.get("/app/sw.js")
    assert response.status_code == 200
    body = response.content.decode()
    assert '"/static/patient_app/app.0123456789ab.js"' in body and '"/static/patient_app/app.js"' in body
    assert 'const STATIC_URL = "/static/";' in body


@pytest.mark.parametrize("flag, backend, finders", [
    ("1", "backend.core.static_storage.HashedStaticFilesStorage", False),
    ("0", "django.contrib.staticfiles.storage.StaticFilesStorage", True),
])
def test_make_runs_flag_switches_the_development_server_to_the_collected_files(flag, backend, finders):
    """The development default (DEBUG on), with and without the flag demo_run sets for its server."""
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_ENV", "DEBUG", "DATABASE_URL")}
    env.update(MOODWATCH_HASHED_STATIC=flag, DJANGO_SETTINGS_MODULE="backend.settings")
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "print(s.DEBUG, s.STORAGES['staticfiles']['BACKEND'], getattr(s, 'WHITENOISE_USE_FINDERS', s.DEBUG))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.split() == ["True", backend, str(finders)], result.stderr[-2000:]


@pytest.fixture
def collected_bundle(tmp_path, settings):
    """The Plotly bundle collected into a STATIC_ROOT as collectstatic does (copy, hash, gzip)."""
    settings.DEBUG = True  # as under `make run`
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = HASHED_STORAGE
    settings.WHITENOISE_USE_FINDERS = False
    settings.WHITENOISE_AUTOREFRESH = False
    storage = HashedStaticFilesStorage(location=tmp_path, base_url="/static/")
    source = settings.NODE_MODULES / PACKAGE / Path(STATIC_PATH).name
    storage.save(STATIC_PATH, ContentFile(source.read_bytes()))
    processed = list(storage.post_process({STATIC_PATH: (storage, STATIC_PATH)}))
    assert not [error for _, _, error in processed if isinstance(error, Exception)]
    storage.save_manifest()
    return source.read_bytes()


def serve(url: str, **headers):
    middleware = WhiteNoiseMiddleware(get_response=lambda request: pytest.fail(f"{url} reached Django"))
    return middleware(RequestFactory().get(url, **headers))


def test_the_hashed_bundle_is_answered_gzipped_and_cached_as_immutable(collected_bundle):
    url = static(STATIC_PATH)
    assert url != f"/static/{STATIC_PATH}" and url.startswith("/static/dashboard/vendor/plotly-basic.min.")
    response = serve(url, HTTP_ACCEPT_ENCODING="gzip, deflate")
    body = b"".join(response.streaming_content)
    assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == collected_bundle and len(body) < len(collected_bundle) / 2
    cache = dict(part.strip().partition("=")[::2] for part in response["Cache-Control"].split(","))
    assert "immutable" in cache and int(cache["max-age"]) >= YEAR
    plain = serve(url)  # a client that accepts no compression gets the bytes themselves
    assert "Content-Encoding" not in plain and b"".join(plain.streaming_content) == collected_bundle


def test_the_plain_name_is_not_cached_as_immutable(collected_bundle):
    response = serve(f"/static/{STATIC_PATH}", HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200 and "immutable" not in response["Cache-Control"]


def test_demo_run_collects_the_static_files_only_when_a_source_changed(tmp_path, settings, monkeypatch):
    settings.VAR_DIR, settings.STATIC_ROOT = tmp_path / "var", tmp_path / "static"
    digests, runs = iter(["a", "a", "b", "b", "b"]), []

    def collectstatic(command, **kwargs):
        runs.append((command[2], kwargs["env"]["MOODWATCH_HASHED_STATIC"]))
        settings.STATIC_ROOT.mkdir(exist_ok=True)
        manifest(settings.STATIC_ROOT, {})
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(demo_run.subprocess, "run", collectstatic)
    monkeypatch.setattr(demo_run, "static_sources_digest", lambda: next(digests))
    environment = demo_run.server_environment("127.0.0.1", 8000)
    for _ in range(4):
        demo_run.static_collect(environment, sys.stdout)
    assert runs == [("collectstatic", "1")] * 2
    (settings.STATIC_ROOT / "staticfiles.json").unlink()  # STATIC_ROOT removed by hand: collect again
    demo_run.static_collect(environment, sys.stdout)
    assert len(runs) == 3


def test_a_failed_collectstatic_stops_the_demo_with_a_message(tmp_path, settings, monkeypatch):
    settings.VAR_DIR, settings.STATIC_ROOT = tmp_path / "var", tmp_path / "static"
    monkeypatch.setattr(demo_run.subprocess, "run", lambda command, **kwargs: subprocess.CompletedProcess(command, 1))
    with pytest.raises(CommandError, match="collectstatic failed"):
        demo_run.static_collect(demo_run.server_environment("127.0.0.1", 8000), sys.stdout)
    assert not (settings.VAR_DIR / demo_run.STATIC_STAMP).exists(), "a failed run is tried again next time"


def test_the_sources_digest_follows_a_changed_static_file(tmp_path, settings):
    (tmp_path / "extra.js").write_text("1")
    settings.STATICFILES_DIRS = [*settings.STATICFILES_DIRS, ("extra", tmp_path)]
    first = demo_run.static_sources_digest()
    assert demo_run.static_sources_digest() == first
    (tmp_path / "extra.js").write_text("22")
    assert demo_run.static_sources_digest() != first
