"""Deployment checks of our own, run by `manage.py check --deploy`."""
from django.conf import settings
from django.core import checks

PROCESS_LOCAL_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}


@checks.register(checks.Tags.security, deploy=True)
def throttle_cache_is_shared(app_configs, **kwargs):
    """Throttle counters in a per-process cache reset per gunicorn worker: N workers allow N times the rate."""
    backend = settings.CACHES["default"]["BACKEND"]
    if backend in PROCESS_LOCAL_CACHES:
        return [checks.Warning(
            f"The default cache ({backend}) is local to each process, so rate limits are not shared "
            "between web processes.",
            hint="Set CACHE_URL to a shared cache, e.g. redis://redis:6379/1.",
            id="moodwatch.W001",
        )]
    return []


@checks.register(checks.Tags.security, deploy=True)
def public_url_is_set(app_configs, **kwargs):
    """Without the site's address, alert e-mails carry a path only and enrollment links use whatever
    address the clinician opened the page at (which a phone may not reach)."""
    if not settings.MOODWATCH_PUBLIC_URL:
        return [checks.Warning(
            "MOODWATCH_PUBLIC_URL is not set: alert e-mails carry no address, and the patient app's "
            "enrollment link uses the address each page was opened at.",
            hint="Set MOODWATCH_PUBLIC_URL to the site's https address, e.g. https://moodwatch.hospital.example.",
            id="moodwatch.W002",
        )]
    return []
