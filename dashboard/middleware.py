"""The clinician's own time zone for every page outside the API."""
from django.utils import timezone

from backend.core.errors import is_api
from backend.patients.selectors import clinician_timezone


class ClinicianTimezoneMiddleware:
    """Activate the signed-in clinician's zone (patients.ClinicianPreferences) for the request: the
    inbox, the admin and any form that reads a time show and read times in it. A patient's pages
    override it with `{% timezone patient.timezone %}`: the patient's days are cut at the patient's
    midnight. The API keeps UTC (its timestamps carry their offset, and its clients are programs)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if is_api(request) or user is None or not user.is_authenticated:
            return self.get_response(request)
        timezone.activate(clinician_timezone(user=user))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
