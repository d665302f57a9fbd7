"""The patient app's doors: the shell page at /app/, its web-app manifest and its service worker.

The app itself is static JavaScript (static/patient_app/) that talks to the public device API only,
as the simulator does; these views hold no patient data and need no login.
"""
import hashlib
import json
from functools import lru_cache
from pathlib import Path

from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.http import require_safe

from . import runtime

# The app's own files (not the model runtime's, which the service worker caches on first use).
SHELL_FILES = [
    "patient_app/app.css", "patient_app/app.js", "patient_app/api.js", "patient_app/store.js",
    "patient_app/queue.js", "patient_app/checkin.js", "patient_app/text.js",
    "patient_app/icons/icon.svg", "patient_app/icons/icon-192.png", "patient_app/icons/icon-512.png",
    "patient_app/icons/maskable-512.png",
    "patient_app/runtime/pipeline.js", "patient_app/runtime/blazeface.js", "patient_app/runtime/imaging.js",
] + [f"vendor/litertjs/{path}" for path in ("core/index.js", "wasm-utils/index.js")]
THEME_COLOR = "#1f5f7a"


@lru_cache(maxsize=1)
def shell_version() -> str:
    """A digest of the shell's files and pages: a new one makes browsers install the new worker."""
    digest = hashlib.sha256()
    for name in SHELL_FILES:
        found = finders.find(name)
        digest.update(name.encode())
        if found:
            digest.update(Path(found).read_bytes())
    for template in ("app.html", "sw.js"):
        digest.update((Path(__file__).parent / "templates" / "patient_app" / template).read_bytes())
    return digest.hexdigest()[:16]


def _with_app_policy(response: HttpResponse) -> HttpResponse:
    """The project's policy, plus WebAssembly compilation (the model runtime, LiteRT.js, is WASM
    served from our own static files) and the runtime's import map, named by its SHA-256 (see
    runtime.py). Still no other inline script and nothing from another host."""
    response["Content-Security-Policy"] = runtime.content_security_policy()
    return response


@require_safe
def app_shell(request):
    """The single page of the app; everything else happens in static/patient_app/app.js."""
    return _with_app_policy(render(request, "patient_app/app.html", {
        "theme_color": THEME_COLOR, "version": shell_version(), "runtime_import_map": runtime.import_map(),
    }))


@require_safe
def web_manifest(request):
    """The installable app's manifest (Add to Home screen)."""
    body = {
        "name": "MoodWatch",
        "short_name": "MoodWatch",
        "description": "Mood check-ins for patients of a MoodWatch clinic.",
        "id": "/app/",
        "start_url": "/app/",
        "scope": "/app/",
        "display": "standalone",
        "orientation": "any",
        "background_color": "#f4f7f8",
        "theme_color": THEME_COLOR,
        "icons": [
            {"src": static("patient_app/icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("patient_app/icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {"src": static("patient_app/icons/maskable-512.png"), "sizes": "512x512", "type": "image/png",
             "purpose": "maskable"},
            {"src": static("patient_app/icons/icon.svg"), "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    return HttpResponse(json.dumps(body, indent=2), content_type="application/manifest+json")


@require_safe
def service_worker(request):
    """The service worker, at /app/sw.js so that its scope is /app/: it caches the shell for an
    offline start and the model's files, and never touches the API's requests (see sw.js)."""
    # Both names of each file: static() gives the hashed one in production (the page's links), and
    # an ES module imports its neighbours by their plain name ("./api.js").
    # (The storage's base URL, not static(""): a manifest storage refuses a name it has no entry for.)
    plain = staticfiles_storage.base_url
    urls = [url for name in SHELL_FILES for url in (static(name), plain + name)]
    precache = ["/app/", "/app/manifest.webmanifest"] + list(dict.fromkeys(urls))
    response = render(request, "patient_app/sw.js", {
        "version": shell_version(), "precache": json.dumps(precache), "static_url": plain,
    }, content_type="text/javascript; charset=utf-8")
    return _with_app_policy(response)
