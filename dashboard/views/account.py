"""The clinician's own settings: for now, the time zone they read times in."""
from zoneinfo import available_timezones

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from backend.patients.selectors import clinician_timezone
from backend.patients.services import clinician_timezone_set

from ..access import audit_context
from ..forms import ClinicianTimezoneForm

# The names the form offers (and accepts: validate_timezone checks the same set).
TIMEZONE_NAMES = sorted(available_timezones())


@login_required
@require_http_methods(["GET", "POST"])
def clinician_settings(request):
    current = clinician_timezone(user=request.user)
    form = ClinicianTimezoneForm(request.POST or None, initial={"timezone": current})
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "dashboard/clinician_settings.html",
                          {"form": form, "current": current, "timezones": TIMEZONE_NAMES}, status=400)
        clinician_timezone_set(user=request.user, timezone_name=form.cleaned_data["timezone"],
                               context=audit_context(request))
        messages.success(request, f"Time zone saved: times are now shown in {form.cleaned_data['timezone']}.")
        return redirect("dashboard:clinician-settings")
    return render(request, "dashboard/clinician_settings.html",
                  {"form": form, "current": current, "timezones": TIMEZONE_NAMES})
