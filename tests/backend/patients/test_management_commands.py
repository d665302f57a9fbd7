"""create_patient and enrollment_code: the commands tests, demos and operators use."""
import io

import pytest
from django.core.management import CommandError, call_command

from backend.devices.models import EnrollmentCode
from backend.devices.services import device_enroll
from backend.patients.models import Patient


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_create_patient_prints_the_new_patients_id(clinician):
    printed = run(
        "create_patient", "--ref", "P-001", "--clinician", clinician.username, "--timezone", "America/New_York"
    )
    patient = Patient.objects.get(reference="P-001")
    assert printed.strip() == str(patient.pk)
    assert patient.timezone == "America/New_York"
    assert list(patient.clinicians.all()) == [clinician]
    assert not patient.has_consent


def test_create_patient_records_consent_only_when_asked_by_the_actor_named(clinician):
    run(
        "create_patient", "--ref", "P-002", "--clinician", clinician.username, "--consent", "--actor",
        clinician.username,
    )
    patient = Patient.objects.get(reference="P-002")
    assert patient.has_consent and patient.consent_recorded_by == clinician


def test_without_an_actor_consent_is_recorded_by_the_system_not_a_clinician(clinician):
    run("create_patient", "--ref", "P-005", "--clinician", clinician.username, "--consent")
    patient = Patient.objects.get(reference="P-005")
    assert patient.has_consent and patient.consent_recorded_by is None


def test_create_patient_refuses_an_unknown_clinician(db):
    with pytest.raises(CommandError, match="nobody"):
        run("create_patient", "--ref", "P-003", "--clinician", "nobody")


def test_create_patient_refuses_a_timezone_that_is_not_iana(clinician):
    with pytest.raises(CommandError, match="time zone"):
        run("create_patient", "--ref", "P-004", "--clinician", clinician.username, "--timezone", "Mars/Olympus")


def test_enrollment_code_prints_a_fresh_usable_code_on_its_own_line(patient):
    printed = run("enrollment_code", "--patient", patient.reference)
    lines = printed.splitlines()
    assert len(lines) == 1
    device, _ = device_enroll(code=lines[0])
    assert device.patient == patient


def test_each_enrollment_code_is_fresh(patient):
    first = run("enrollment_code", "--patient", patient.reference)
    assert first != run("enrollment_code", "--patient", patient.reference)
    assert EnrollmentCode.objects.filter(patient=patient).count() == 2


def test_enrollment_code_refuses_an_unknown_patient(db):
    with pytest.raises(CommandError, match="P-NOPE"):
        run("enrollment_code", "--patient", "P-NOPE")


@pytest.mark.parametrize("args", [
    ["create_patient", "--ref", "P\x00X", "--clinician", "dr_house"],
    ["create_patient", "--ref", "P-X", "--clinician", "dr\x00house"],
    ["create_patient", "--ref", "P-X", "--clinician", "dr_house", "--display-name", "a\x00b"],
    ["create_patient", "--ref", "P-X", "--clinician", "dr_house", "--timezone", "UTC\x00"],
    ["create_patient", "--ref", "P-X", "--clinician", "dr_house", "--actor", "\x00"],
    ["enrollment_code", "--patient", "P\x00ALPHA"],
    ["enrollment_code", "--patient", "P-ALPHA", "--actor", "dr\x00house"],
    ["enrollment_code", "--patient", "P-ALPHA", "--issued-by", "dr\x00house"],
])
def test_a_nul_character_in_any_text_option_is_a_usage_error_that_writes_nothing(patient, args):
    with pytest.raises(CommandError, match="must not contain a NUL character"):
        run(*args)
    assert list(Patient.objects.values_list("reference", flat=True)) == ["P-ALPHA"]
    assert not EnrollmentCode.objects.exists()


@pytest.mark.parametrize("days", ["0", "-5", "91", "99999999999999999999"])
def test_enrollment_code_refuses_a_lifetime_outside_1_to_90_days(patient, days):
    with pytest.raises(CommandError, match="--ttl-days must be from 1 to 90"):
        run("enrollment_code", "--patient", patient.reference, "--ttl-days", days)
    assert not EnrollmentCode.objects.exists()


def test_enrollment_code_accepts_the_edges_of_its_lifetime(patient):
    run("enrollment_code", "--patient", patient.reference, "--ttl-days", "1")
    run("enrollment_code", "--patient", patient.reference, "--ttl-days", "90")
    codes = EnrollmentCode.objects.all()
    lifetimes = sorted(round((c.expires_at - c.issued_at).total_seconds() / 86400) for c in codes)
    assert lifetimes == [1, 90]


def test_enrollment_code_refuses_a_deactivated_patient(patient):
    patient.is_active = False
    patient.save(update_fields=["is_active"])
    with pytest.raises(CommandError, match="deactivated"):
        run("enrollment_code", "--patient", patient.reference)
    assert not EnrollmentCode.objects.exists()
