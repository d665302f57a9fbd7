"""Personas and helpers for the hostile-input and fuzz tests (Django's test client, real database)."""
from tests.backend.conftest import (  # noqa: F401 (fixtures)  # noqa: F401 (fixtures)
    admin_user,
    clinician,
    clinician_web,
    device,
    device_client,
    face_jpeg,
    other_clinician,
    other_clinician_web,
    other_patient,
    patient,
    unknown_device_client,
)


def pytest_terminal_summary(terminalreporter):
    from .fuzzing import RequestCounter

    if RequestCounter.requests:
        terminalreporter.write_line(
            f"fuzz layer: {RequestCounter.requests} requests, {RequestCounter.seconds:.1f} s in the server")
