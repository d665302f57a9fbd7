"""Reads for patients. Clinicians see only the patients assigned to them; superusers see all."""
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Max, Q, QuerySet

from backend.audit.models import AuditAction, AuditEvent

from .models import ClinicianPreferences, Patient
from .references import reference_key


def patient_list_visible_to(*, user: AbstractBaseUser) -> QuerySet[Patient]:
    if not user.is_authenticated:
        return Patient.objects.none()
    if user.is_superuser:
        return Patient.objects.all()
    return Patient.objects.filter(clinicians=user)


def patient_get_by_reference(*, reference: str) -> Patient:
    """The one patient with this reference (look-alikes included); raises Patient.DoesNotExist, or
    Patient.MultipleObjectsReturned when patients of different teams share it."""
    return Patient.objects.get(reference_key=reference_key(reference))


def patient_list_search(
    *, user: AbstractBaseUser, query: str = "", include_inactive: bool = False
) -> QuerySet[Patient]:
    """The user's visible patients whose reference or display name contains `query`."""
    patients = patient_list_visible_to(user=user)
    if not include_inactive:
        patients = patients.filter(is_active=True)
    if query:
        patients = patients.filter(Q(reference__icontains=query) | Q(display_name__icontains=query))
    return patients


def patient_data_deletions(*, patient: Patient) -> int:
    """How many times the patient's data were deleted on request (their `data.delete` audit rows).
    A deletion confirmation names this number, so it is good for one deletion only."""
    return AuditEvent.objects.filter(patient=patient, action=AuditAction.DATA_DELETE).count()


def clinician_list_assignable() -> QuerySet:
    """Accounts that may be put on a patient's care team: every active user, by username."""
    return get_user_model().objects.filter(is_active=True).order_by("username")


def clinician_timezone(*, user: AbstractBaseUser) -> str:
    """The IANA zone the clinician reads times in outside a patient's pages: their own setting, else
    settings.TIME_ZONE."""
    if not user.is_authenticated:
        return settings.TIME_ZONE
    chosen = ClinicianPreferences.objects.filter(user=user).values_list("timezone", flat=True).first()
    return chosen or settings.TIME_ZONE


def patient_last_event_at(*, patient_ids: list, action: str) -> dict:
    """patient pk -> when the patient's latest audit row of `action` was written (e.g. data.delete:
    their data were last deleted on request), for the patients that have one."""
    rows = (AuditEvent.objects.filter(patient_id__in=patient_ids, action=action)
            .values("patient_id").order_by().annotate(last=Max("at")))
    return {row["patient_id"]: row["last"] for row in rows}
