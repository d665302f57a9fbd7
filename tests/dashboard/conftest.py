"""Dashboard tests use the personas of tests/backend: the patient's clinician, another clinician, an
admin, anonymous."""
from tests.backend.conftest import (  # noqa: F401 (fixtures)
    admin_user,
    admin_web,
    anonymous_web,
    clinician,
    clinician_web,
    logged_in,
    other_clinician,
    other_clinician_web,
    other_patient,
    patient,
)
