"""The patient app's doors: the shell page, its web-app manifest and its service worker."""
import base64
import hashlib
import json
import re

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_the_shell_page_is_served_without_login_and_loads_only_our_own_module_scripts(client):
    response = client.get("/app/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<link rel="manifest" href="/app/manifest.webmanifest">' in html
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts == ['<script type="importmap">', '<script type="module" src="/static/patient_app/app.js">']
    import_map = re.search(r'<script type="importmap">(.*?)</script>', html).group(1)
    assert json.loads(import_map)["imports"]["@litertjs/core"] == "/static/vendor/litertjs/core/index.js"
    tags = "".join(re.findall(r"<[^>]+>", html))
    assert not re.search(r"\son[a-z]+=", tags)  # no inline event handler
    assert "http://" not in html and "https://" not in html  # nothing from another host
    policy = response["Content-Security-Policy"]
    script_src = policy.split("script-src ")[1].split(";")[0].split()
    # Our files, WASM compilation (the model runtime), and the import map by its hash: nothing inline else.
    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    assert script_src == ["'self'", "'wasm-unsafe-eval'", f"'sha256-{digest}'"]
    assert "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response["Cache-Control"] == "no-store"


def test_the_manifest_makes_the_app_installable_under_app(client):
    response = client.get("/app/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    body = json.loads(response.content)
    assert body["start_url"] == "/app/" and body["scope"] == "/app/" and body["display"] == "standalone"
    sizes = {icon["sizes"] for icon in body["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in body["icons"]:
        assert finders.find(icon["src"].removeprefix("/static/")), icon["src"]


def test_the_service_worker_is_scoped_to_app_precaches_the_shell_and_never_handles_posts(client):
    response = client.get("/app/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    text = response.content.decode()
    precache = json.loads(re.search(r"const PRECACHE = (\[.*?\]);", text).group(1))
    assert "/app/" in precache and "/static/patient_app/app.js" in precache
    for url in precache:
        if url.startswith("/static/"):
            assert finders.find(url.removeprefix("/static/")), url
        else:
            assert client.get(url).status_code == 200, url
    assert 'if (request.method !== "GET") return;' in text


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_the_app_pages_refuse_writes(client, method):
    for url in ("/app/", "/app/manifest.webmanifest", "/app/sw.js"):
        assert getattr(client, method)(url).status_code == 405
