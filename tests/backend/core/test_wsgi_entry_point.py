"""gunicorn's entry point imports every view when a worker boots, not on its first request."""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

PROBE = """
import json, sys
import backend.wsgi
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("dashboard.views", "backend.ingest.views")))))
"""


def test_loading_the_wsgi_application_imports_the_dashboard_and_device_api_views():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True,
                         timeout=120, check=True)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert any(m.startswith("dashboard.views") for m in loaded), loaded
    assert any(m.startswith("backend.ingest.views") for m in loaded), loaded
