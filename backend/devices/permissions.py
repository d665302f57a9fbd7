"""Permissions for the device API."""
from rest_framework import exceptions, permissions

from backend.patients.modes import inference_mode_require

from .models import Device


class IsDevice(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Device)


class PatientAcceptsUploads(permissions.BasePermission):
    """Frames are accepted only for an active patient with recorded consent (403 with a clear code)."""

    def has_permission(self, request, view) -> bool:
        patient = request.auth.patient
        if not patient.is_active:
            raise exceptions.PermissionDenied("This patient is not active.", code="patient_inactive")
        if not patient.has_consent:
            raise exceptions.PermissionDenied(
                "No consent to camera-based monitoring is recorded for this patient.", code="consent_missing"
            )
        return True


class PatientInferenceMode(permissions.BasePermission):
    """A batch of the kind the patient's inference mode takes (the view's `inference_mode`), else 403
    `inference_mode_mismatch` before the body is read. The ingest services check again under the
    patient's lock."""

    def has_permission(self, request, view) -> bool:
        inference_mode_require(mode=request.auth.patient.inference_mode, expected=view.inference_mode)
        return True
