"""Personas and helpers for the hostile-input and fuzz tests (Django's test client, real database)."""
from tests.backend.conftest import (  # noqa: F401 (fixtures)
    admin_user,
    clinician,
    device,
    device_client,
    face_jpeg,
    other_clinician,
    other_patient,
    patient,
    unknown_device_client,
)
from tests.dashboard.conftest import clinician_web, other_clinician_web  # noqa: F401 (fixtures)
