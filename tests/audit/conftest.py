from tests.backend.conftest import admin_user, clinician, other_clinician, other_patient, patient  # noqa: F401 (fixtures)
from tests.dashboard.conftest import admin_web, anonymous_web, clinician_web, other_clinician_web  # noqa: F401 (fixtures)
