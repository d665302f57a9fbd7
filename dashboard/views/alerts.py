"""The alerts inbox, and acknowledging an alert (with a note)."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from backend.alerts.models import Alert
from backend.alerts.selectors import alert_get_for_patient, alert_inbox_for
from backend.alerts.services import alert_acknowledge
from backend.audit.services import alert_inbox_read_record
from backend.core.errors import ApplicationError

from ..access import audit_context, patient_for_request
from ..forms import AcknowledgeForm

INBOX_LIMIT = 500  # more open alerts than this is a configuration problem, not a reading list


@login_required
@require_GET
def alert_inbox(request):
    alerts = list(alert_inbox_for(user=request.user)[:INBOX_LIMIT])
    alert_inbox_read_record(actor=request.user, alerts=len(alerts), patients=len({a.patient_id for a in alerts}),
                            context=audit_context(request))
    return render(request, "dashboard/alert_inbox.html", {
        "alerts": alerts, "attention": sum(1 for a in alerts if not a.is_acknowledged),
        "limited": len(alerts) == INBOX_LIMIT, "ack_form": AcknowledgeForm(),
    })


@login_required
@require_POST
def alert_ack(request, patient_id, alert_id):
    patient = patient_for_request(request, patient_id)
    try:
        alert = alert_get_for_patient(patient=patient, alert_id=alert_id)
    except Alert.DoesNotExist:
        raise Http404("No such alert.")
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Write a note saying what was done before acknowledging the alert.")
    else:
        try:
            alert_acknowledge(alert=alert, actor=request.user, note=form.cleaned_data["note"],
                              context=audit_context(request))
            messages.success(request, "Alert acknowledged.")
        except ApplicationError as error:
            messages.error(request, error.detail)
    return redirect(_safe_next(request, patient))


def _safe_next(request, patient) -> str:
    """Back to the page the form was on (same site only), else the patient page."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("dashboard:patient-detail", kwargs={"patient_id": patient.pk})
