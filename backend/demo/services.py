"""Writes for the `make run` demo. Idempotent: running the demo again changes nothing it made."""
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from backend.audit.services import COMMAND
from backend.devices.models import Device
from backend.devices.services import enrollment_code_issue
from backend.patients.models import InferenceMode, Patient
from backend.patients.services import patient_consent_record, patient_create, patient_inference_mode_set

CLINICIAN_USERNAME = "demo"  # created by `manage.py demo_clinician`


@dataclass(frozen=True)
class DemoPatient:
    reference: str
    display_name: str
    timezone: str
    photos: tuple[str, ...]  # file names in the sample-photo folder that this patient's phone "sees"
    # frames: the phone uploads frames, the server's workers analyse them; on_device: the phone runs
    # the model (the simulator's --on-device) and sends mood batches only.
    inference_mode: str = InferenceMode.FRAMES


DEMO_PATIENTS = (
    DemoPatient("DEMO-001", "Demo patient A (DEMO DATA)", "Europe/Paris",
                ("obama-480p.jpg", "obama-720p.jpg", "obama1.jpg")),
    DemoPatient("DEMO-002", "Demo patient B (DEMO DATA)", "America/New_York",
                ("two_people.jpg", "obama1.jpg"), InferenceMode.ON_DEVICE),
)


@transaction.atomic
def demo_patients_ensure(*, clinician: AbstractBaseUser) -> list[Patient]:
    """The demo patients, created once, assigned to the demo clinician, with consent recorded, each in
    its inference mode (set again on a demo database made before it had one)."""
    patients = []
    for spec in DEMO_PATIENTS:
        patient = Patient.objects.filter(reference=spec.reference).first()
        if patient is None:
            patient = patient_create(actor=clinician, reference=spec.reference, clinicians=[clinician],
                                     display_name=spec.display_name, timezone_name=spec.timezone, consent=True,
                                     inference_mode=spec.inference_mode, context=COMMAND)
        else:
            patient.clinicians.add(clinician)
            if not patient.has_consent:
                patient_consent_record(patient=patient, actor=clinician, context=COMMAND)
            patient_inference_mode_set(patient=patient, inference_mode=spec.inference_mode, actor=clinician,
                                       context=COMMAND)
        patients.append(patient)
    return patients


def demo_clinician_get() -> AbstractBaseUser:
    return get_user_model().objects.get(username=CLINICIAN_USERNAME)


def demo_device_prepare(*, patient: Patient, state_dir: Path, server: str, issued_by: AbstractBaseUser) -> str | None:
    """Make the simulator's state folder usable for this patient on this database and server.

    Returns a fresh enrollment code when the simulator must enroll, or None when the token it saved
    earlier still belongs to an active device of this patient (a re-run). A token left over from
    another database (e.g. var/db.sqlite3 deleted) is discarded with the rest of that folder.
    """
    device_file = state_dir / "device.json"
    if device_file.exists():
        saved = json.loads(device_file.read_text())
        still_valid = saved.get("server") == server and Device.objects.filter(
            pk=saved.get("device_id"), patient=patient, revoked_at__isnull=True).exists()
        if still_valid:
            return None
        shutil.rmtree(state_dir)
    _, code = enrollment_code_issue(patient=patient, actor=issued_by, context=COMMAND)
    return code


def demo_replay_prepare(*, patient: Patient, target_dir: Path, faces_dir: Path) -> int:
    """This patient's two weeks of replay frames (written once; see backend.demo.replay)."""
    from .replay import replay_frames_write  # brings OpenCV and numpy: only when frames are written

    return replay_frames_write(reference=patient.reference, timezone=patient.timezone, faces_dir=faces_dir,
                               target_dir=target_dir, now=timezone.now())


def demo_photos_link(*, patient_spec: DemoPatient, source_dir: Path, target_dir: Path) -> Path:
    """A folder holding this patient's demo photos (links to the real sample photos)."""
    target_dir.mkdir(parents=True, exist_ok=True)
    for name in patient_spec.photos:
        source, link = source_dir / name, target_dir / name
        if not source.is_file():
            raise FileNotFoundError(f"sample photo missing: {source}")
        if not link.exists():
            link.symlink_to(source.resolve())
    return target_dir
