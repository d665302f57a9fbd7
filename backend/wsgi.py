"""WSGI entry point (gunicorn backend.wsgi)."""
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
application = get_wsgi_application()

# Import every view now, as each gunicorn worker boots, rather than on its first request: that
# request is not slowed by ~20 MB of imports (numpy, the API schema, the dashboard), and a worker's
# memory is at its working size from the start, so growth later means a leak.
get_resolver().url_patterns  # noqa: B018 (the access is the import)
