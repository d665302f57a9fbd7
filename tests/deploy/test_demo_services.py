"""The `make run` demo's setup: idempotent patients, and simulated phones that re-enroll only when needed."""
import json

import pytest
from django.core.management import CommandError, call_command

from backend.demo.services import DEMO_PATIENTS, demo_device_prepare, demo_patients_ensure, demo_photos_link
from backend.devices.models import Device
from backend.devices.services import device_enroll, device_revoke
from backend.patients.models import Patient
from tests.backend.factories import UserFactory

pytestmark = pytest.mark.django_db
SERVER = "http://127.0.0.1:8000"


@pytest.fixture
def demo_clinician():
    return UserFactory(username="demo")


def saved_phone(folder, device: Device, server: str = SERVER):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "device.json").write_text(json.dumps({"server": server, "device_id": str(device.pk),
                                                    "patient_id": str(device.patient_id), "token": "t"}))


def test_the_demo_patients_are_created_once_with_consent_and_assigned_to_the_demo_clinician(demo_clinician):
    first = demo_patients_ensure(clinician=demo_clinician)
    second = demo_patients_ensure(clinician=demo_clinician)
    assert [p.pk for p in first] == [p.pk for p in second]
    assert Patient.objects.count() == len(DEMO_PATIENTS) == 2
    for patient in second:
        patient.refresh_from_db()
        assert patient.has_consent and demo_clinician in patient.clinicians.all()
        assert "DEMO" in patient.display_name


def test_a_new_phone_gets_a_working_enrollment_code(demo_clinician, tmp_path):
    patient = demo_patients_ensure(clinician=demo_clinician)[0]
    code = demo_device_prepare(patient=patient, state_dir=tmp_path / "phone", server=SERVER, issued_by=demo_clinician)
    device, _ = device_enroll(code=code, label="demo")
    assert device.patient == patient


def test_a_phone_whose_token_still_works_is_reused(demo_clinician, tmp_path):
    patient = demo_patients_ensure(clinician=demo_clinician)[0]
    device, _ = device_enroll(code=demo_device_prepare(patient=patient, state_dir=tmp_path / "p", server=SERVER,
                                                       issued_by=demo_clinician), label="demo")
    saved_phone(tmp_path / "p", device)
    assert demo_device_prepare(
        patient=patient, state_dir=tmp_path / "p", server=SERVER, issued_by=demo_clinician
    ) is None
    assert (tmp_path / "p" / "device.json").exists()


@pytest.mark.parametrize("why", ["revoked", "another server", "another database"])
def test_a_phone_with_a_stale_token_starts_over_with_a_new_code(demo_clinician, tmp_path, why):
    patient = demo_patients_ensure(clinician=demo_clinician)[0]
    device, _ = device_enroll(code=demo_device_prepare(patient=patient, state_dir=tmp_path / "p", server=SERVER,
                                                       issued_by=demo_clinician), label="demo")
    saved_phone(tmp_path / "p", device, server="http://127.0.0.1:9999" if why == "another server" else SERVER)
    (tmp_path / "p" / "queue").mkdir()
    if why == "revoked":
        device_revoke(device=device, actor=None)
    if why == "another database":
        Device.objects.filter(pk=device.pk).delete()
    code = demo_device_prepare(patient=patient, state_dir=tmp_path / "p", server=SERVER, issued_by=demo_clinician)
    assert code and not (tmp_path / "p").exists(), "the old token and queue are discarded"


def test_each_demo_patient_sees_its_own_real_photos(tmp_path, sample_images_dir):
    for spec in DEMO_PATIENTS:
        folder = demo_photos_link(patient_spec=spec, source_dir=sample_images_dir, target_dir=tmp_path / spec.reference)
        assert sorted(p.name for p in folder.iterdir()) == sorted(spec.photos)
        assert all((folder / name).read_bytes() == (sample_images_dir / name).read_bytes() for name in spec.photos)
    with pytest.raises(FileNotFoundError, match="sample photo missing"):
        demo_photos_link(patient_spec=DEMO_PATIENTS[0], source_dir=tmp_path / "nowhere", target_dir=tmp_path / "x")


def test_the_demo_refuses_to_run_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("demo_run", "--port", "1")
