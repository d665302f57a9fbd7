"""What a page needs to run the in-browser pipeline (static/patient_app/runtime/pipeline.js).

LiteRT.js is published as ES modules that import each other by package name
(`import ... from "@litertjs/wasm-utils"`). Without a bundler the browser resolves those names
through an import map, an inline <script type="importmap"> in the page; the site's
Content-Security-Policy allows no inline script, so the page's policy names the import map by its
SHA-256. LiteRT.js also compiles WebAssembly, which a policy must allow with 'wasm-unsafe-eval'
(nothing else: no 'unsafe-eval', no 'unsafe-inline').

A page that imports pipeline.js:

    from clients.patient_app import runtime
    context = {"runtime_import_map": runtime.import_map()}
    # in the template's <head>, before any module script: {% include "patient_app/runtime/importmap.html" %}
    response["Content-Security-Policy"] = runtime.content_security_policy()
"""
from __future__ import annotations

import base64
import hashlib
import json

from django.templatetags.static import static

from backend.core.middleware import CONTENT_SECURITY_POLICY

PACKAGES = {
    "@litertjs/core": "vendor/litertjs/core/index.js",
    "@litertjs/wasm-utils": "vendor/litertjs/wasm-utils/index.js",
}
PIPELINE = "patient_app/runtime/pipeline.js"


def import_map() -> str:
    """The import map's JSON text, exactly as the page must embed it (its hash is in the policy)."""
    return json.dumps({"imports": {name: static(path) for name, path in PACKAGES.items()}}, sort_keys=True)


def content_security_policy() -> str:
    """The site's policy, plus WebAssembly compilation and this one inline import map."""
    digest = base64.b64encode(hashlib.sha256(import_map().encode()).digest()).decode()
    extra = f" 'wasm-unsafe-eval' 'sha256-{digest}'"
    return "; ".join(part + extra if part.startswith("script-src ") else part
                     for part in CONTENT_SECURITY_POLICY.split("; "))
