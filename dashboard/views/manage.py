"""Patient management: create (+ consent), enrollment codes, devices, deactivation, data deletion."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backend.alerts.definitions import RULE_LABELS, THRESHOLD_LABELS, THRESHOLD_NAMES
from backend.alerts.selectors import alert_rule_default, alert_thresholds_default, alert_thresholds_override
from backend.alerts.services import alert_thresholds_set
from backend.audit.services import patient_page_view_record
from backend.core.errors import ApplicationError
from backend.core.site import site_url
from backend.devices.selectors import device_list_active, device_list_for_patient, enrollment_code_pending
from backend.devices.services import device_revoke as device_revoke_service
from backend.devices.services import enrollment_code_issue
from backend.patients.models import InferenceMode
from backend.patients.selectors import patient_data_deletions
from backend.patients.services import (
    patient_active_set,
    patient_consent_record,
    patient_consent_withdraw,
    patient_device_settings_set,
    patient_inference_mode_set,
)
from backend.patients.services import (
    patient_create as patient_create_service,
)
from backend.workflows.selectors import patient_data_counts
from backend.workflows.services import patient_data_delete

from ..access import audit_context, patient_for_request
from ..forms import DeleteDataConfirmForm, PatientCreateForm, SamplingForm, ThresholdsForm
from ..qr import qr_svg

DELETE_SALT = "dashboard.patient-data-delete"
DELETE_CONFIRMATION_MAX_AGE = 10 * 60


@login_required
@require_http_methods(["GET", "POST"])
def patient_create(request):
    form = PatientCreateForm(request.POST or None, can_assign=request.user.is_superuser)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            patient = patient_create_service(
                actor=request.user, reference=data["reference"], display_name=data["display_name"],
                timezone_name=data["timezone"], consent=data["consent"],
                clinicians=[request.user, *(data.get("clinicians") or [])],  # the creator is on the team
                context=audit_context(request),
            )
        except ApplicationError as error:
            form.add_error("reference", error.detail)
            return render(request, "dashboard/patient_create.html", {"form": form}, status=error.status_code)
        messages.success(request, f"Patient {patient.reference} created.")
        return redirect("dashboard:patient-manage", patient_id=patient.pk)
    return render(request, "dashboard/patient_create.html", {"form": form})


@login_required
@require_GET
def patient_manage(request, patient_id):
    patient = patient_for_request(request, patient_id)
    return _manage_page(request, patient=patient)


def _manage_page(request, *, patient, thresholds_form=None, sampling_form=None, status: int = 200):
    """The manage page; after a refused thresholds or sampling form, that form, its values and its errors."""
    patient_page_view_record(actor=request.user, patient=patient, page="manage", context=audit_context(request))
    if thresholds_form is None:
        thresholds_form = ThresholdsForm(instance=alert_thresholds_override(patient=patient))
    if sampling_form is None:
        sampling_form = _sampling_form(patient=patient)
    return render(request, "dashboard/patient_manage.html", {
        "patient": patient,
        "devices": device_list_for_patient(patient=patient),
        "active_devices": list(device_list_active(patient=patient)),
        "inference_modes": InferenceMode.choices,
        "sampling_form": sampling_form,
        "pending_code": enrollment_code_pending(patient=patient, now=timezone.now()),
        "thresholds_form": thresholds_form,
        "thresholds": _threshold_fields(form=thresholds_form, defaults=alert_thresholds_default()),
    }, status=status)


def _threshold_fields(*, form, defaults) -> list[tuple]:
    """(label, form field, default) for each threshold, in their defined order, then the rule."""
    rule_default = RULE_LABELS[alert_rule_default()]
    return [(THRESHOLD_LABELS[name], form[name], getattr(defaults, name)) for name in THRESHOLD_NAMES] + [
        ("Negative-mood rule", form["rule"], rule_default.lower())]


def _enrollment_session_key(patient) -> str:
    return f"enrollment-code:{patient.pk}"


def enrollment_link(*, request, code: str) -> str:
    """The patient app's enrollment link: opening it (or scanning its QR code) fills in the code."""
    return f"{site_url(request=request)}/app/#enroll={code}"


@login_required
@require_http_methods(["GET", "POST"])
def enrollment_code(request, patient_id):
    """POST issues a code (cancelling the patient's earlier ones) and redirects here; GET shows the
    code this session issued while it can still be used, so a reload shows the same code and never
    issues another. The clear code lives in this server-side session only, until it is used,
    replaced or expired; the database keeps its HMAC."""
    patient = patient_for_request(request, patient_id)
    key = _enrollment_session_key(patient)
    if request.method == "POST":
        try:
            row, code = enrollment_code_issue(patient=patient, actor=request.user, context=audit_context(request))
        except ApplicationError as error:
            messages.error(request, error.detail)
            return redirect("dashboard:patient-manage", patient_id=patient.pk)
        request.session[key] = {"id": row.pk, "code": code}
        return redirect("dashboard:patient-enrollment-code", patient_id=patient.pk)
    pending = enrollment_code_pending(patient=patient, now=timezone.now())
    shown = request.session.get(key)
    if shown and (pending is None or shown.get("id") != pending.pk):
        del request.session[key]  # used, replaced or expired: the clear code is of no use any more
        shown = None
    patient_page_view_record(actor=request.user, patient=patient, page="enrollment-code",
                             context=audit_context(request))
    context = {"patient": patient, "pending": pending, "code": None}
    if shown:
        link = enrollment_link(request=request, code=shown["code"])
        context.update(code=shown["code"], link=link, qr_svg=qr_svg(link))
    return render(request, "dashboard/enrollment_code.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def device_revoke(request, patient_id, device_id):
    """GET: the confirmation page (a page of its own: it works without JavaScript and under the CSP,
    which blocks inline handlers); POST (its "Revoke" button): revoke."""
    patient = patient_for_request(request, patient_id)
    device = get_object_or_404(device_list_for_patient(patient=patient), pk=device_id)
    if request.method == "GET":
        patient_page_view_record(actor=request.user, patient=patient, page="revoke-device",
                                 context=audit_context(request))
        return render(request, "dashboard/device_revoke.html", {"patient": patient, "device": device})
    device_revoke_service(device=device, actor=request.user, context=audit_context(request))
    messages.success(request, f"Device “{device.label or device.pk}” revoked: it can no longer upload.")
    return redirect("dashboard:patient-manage", patient_id=patient.pk)


@login_required
@require_POST
def consent_set(request, patient_id):
    patient = patient_for_request(request, patient_id)
    given = request.POST.get("consent") == "record"
    if given and request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the box to confirm that the patient consented.")
        return redirect("dashboard:patient-manage", patient_id=patient.pk)
    set_consent = patient_consent_record if given else patient_consent_withdraw
    set_consent(patient=patient, actor=request.user, context=audit_context(request))
    messages.success(request, "Consent recorded." if given else "Consent withdrawn: uploads are refused from now on.")
    return redirect("dashboard:patient-manage", patient_id=patient.pk)


@login_required
@require_POST
def active_set(request, patient_id):
    patient = patient_for_request(request, patient_id)
    active = request.POST.get("active") == "1"
    patient_active_set(patient=patient, active=active, actor=request.user, context=audit_context(request))
    messages.success(
        request, "Patient reactivated." if active else "Patient deactivated: devices can no longer upload."
    )
    return redirect("dashboard:patient-manage", patient_id=patient.pk)


@login_required
@require_POST
def inference_mode_set(request, patient_id):
    patient = patient_for_request(request, patient_id)
    try:
        patient_inference_mode_set(patient=patient, inference_mode=request.POST.get("inference_mode", ""),
                                   actor=request.user, context=audit_context(request))
    except ApplicationError as error:
        messages.error(request, error.detail)
        return redirect("dashboard:patient-manage", patient_id=patient.pk)
    messages.success(request, "Inference mode saved: " + InferenceMode(patient.inference_mode).label + ".")
    return redirect("dashboard:patient-manage", patient_id=patient.pk)


def _sampling_form(*, patient, data=None) -> SamplingForm:
    default = settings.MOODWATCH["DEVICE_SAMPLING_SECONDS"]
    return SamplingForm(data, default=default, initial={"sampling_seconds": patient.sampling_seconds})


@login_required
@require_POST
def sampling_set(request, patient_id):
    patient = patient_for_request(request, patient_id)
    form = _sampling_form(patient=patient, data=request.POST)
    if not form.is_valid():
        # The page again, with what was typed and the message beside the field: nothing saved.
        return _manage_page(request, patient=patient, sampling_form=form, status=400)
    patient_device_settings_set(patient=patient, sampling_seconds=form.cleaned_data["sampling_seconds"],
                                actor=request.user, context=audit_context(request))
    messages.success(request, f"Sampling rate saved: one frame every {patient.effective_sampling_seconds:g} s"
                     + ("." if patient.sampling_seconds is not None else " (the clinic's default).")
                     + " The phone follows it from its next check-in.")
    return redirect("dashboard:patient-manage", patient_id=patient.pk)


@login_required
@require_POST
def thresholds_set(request, patient_id):
    patient = patient_for_request(request, patient_id)
    form = ThresholdsForm(request.POST, instance=alert_thresholds_override(patient=patient))
    if not form.is_valid():
        # The page again, with what was typed and a message beside each refused field: nothing saved.
        return _manage_page(request, patient=patient, thresholds_form=form, status=400)
    alert_thresholds_set(patient=patient, actor=request.user, values=form.cleaned_data,
                         context=audit_context(request))
    messages.success(request, "Alert thresholds saved; the next evaluation uses them.")
    return redirect("dashboard:patient-manage", patient_id=patient.pk)


@login_required
@require_http_methods(["GET", "POST"])
def data_delete(request, patient_id):
    """Two confirmations: (1) the request is acknowledged on this page, (2) the reference is typed on the next."""
    patient = patient_for_request(request, patient_id)
    counts = patient_data_counts(patient=patient)
    if request.method == "GET":
        patient_page_view_record(actor=request.user, patient=patient, page="delete-data",
                                 context=audit_context(request))
        return render(request, "dashboard/data_delete.html", {"patient": patient, "counts": counts, "step": 1})
    if request.POST.get("step") == "1":
        if request.POST.get("requested") != "yes":
            messages.error(request, "Confirm that the patient asked for their data to be deleted.")
            return redirect("dashboard:patient-data-delete", patient_id=patient.pk)
        # Single use: the token names the deletions so far, and the service refuses it after one more.
        token = signing.dumps({"patient": str(patient.pk), "user": request.user.pk,
                               "deletions": patient_data_deletions(patient=patient)}, salt=DELETE_SALT)
        return render(request, "dashboard/data_delete.html", {
            "patient": patient, "counts": counts, "step": 2, "token": token,
            "form": DeleteDataConfirmForm(patient=patient),
        })
    try:
        claim = signing.loads(request.POST.get("token", ""), salt=DELETE_SALT, max_age=DELETE_CONFIRMATION_MAX_AGE)
    except signing.BadSignature:
        messages.error(request, "The confirmation expired or is invalid; start again. Nothing was deleted.")
        return redirect("dashboard:patient-data-delete", patient_id=patient.pk)
    deletions = claim.get("deletions")  # absent from a token given before confirmations were single-use
    if claim != {"patient": str(patient.pk), "user": request.user.pk, "deletions": deletions} \
            or not isinstance(deletions, int):
        messages.error(request, "The confirmation does not match; start again. Nothing was deleted.")
        return redirect("dashboard:patient-data-delete", patient_id=patient.pk)
    form = DeleteDataConfirmForm(request.POST, patient=patient)
    if not form.is_valid():
        return render(request, "dashboard/data_delete.html", {
            "patient": patient, "counts": counts, "step": 2, "token": request.POST.get("token"), "form": form,
        })
    try:
        report = patient_data_delete(patient=patient, actor=request.user, context=audit_context(request),
                                     deletions_seen=deletions)
    except ApplicationError as error:  # confirmation_used: a replay, or a second tab
        messages.error(request, error.detail)
        return render(request, "dashboard/data_delete.html",
                      {"patient": patient, "counts": counts, "step": 1}, status=error.status_code)
    messages.success(
        request, f"Deleted {report.records} mood records, {report.self_reports} self-reports and {report.batches} "
                 f"uploads of {patient.reference}."
    )
    return redirect("dashboard:patient-manage", patient_id=patient.pk)
