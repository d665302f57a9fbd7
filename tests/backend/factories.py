"""factory_boy factories for the backend's models."""
from datetime import datetime

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone as dj_timezone

from backend.devices import tokens
from backend.devices.models import Device
from backend.patients.models import InferenceMode, Patient
from backend.rollups.services import capture_slots_add, rollup_batches_fold
from tests.support import PASSWORD


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"clinician{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@hospital.example")
    password = factory.django.Password(PASSWORD)


class PatientFactory(factory.django.DjangoModelFactory):
    """An active patient with recorded consent (override consent_recorded_at=None for none), in
    `frames` mode: the tests built before the on-device app upload frames for it. A patient whose
    phone runs the model is PatientFactory(inference_mode="on_device"), the model's default."""

    class Meta:
        model = Patient
        skip_postgeneration_save = True

    reference = factory.Sequence(lambda n: f"P-{n:05d}")
    display_name = factory.Sequence(lambda n: f"Patient {n}")
    timezone = "Europe/Paris"
    consent_recorded_at = factory.LazyFunction(dj_timezone.now)
    consent_recorded_by = factory.SubFactory(UserFactory)
    is_active = True
    inference_mode = InferenceMode.FRAMES

    @factory.post_generation
    def clinicians(self, create, extracted, **kwargs):
        if create and extracted:
            self.clinicians.set(extracted)


class DeviceFactory(factory.django.DjangoModelFactory):
    """A device; its clear bearer token is left on `device.token` (never stored)."""

    class Meta:
        model = Device

    patient = factory.SubFactory(PatientFactory)
    label = "Pixel 7"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        lookup_id, token = tokens.device_token_generate()
        device = super()._create(
            model_class, *args, token_lookup_id=lookup_id, token_digest=tokens.device_token_digest(token), **kwargs
        )
        device.token = token
        return device


class FrameBatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "ingest.FrameBatch"

    device = factory.SubFactory(DeviceFactory)
    patient = factory.SelfAttribute("device.patient")
    batch_id = factory.Faker("uuid4", cast_to=None)
    content_digest = factory.Faker("sha256")
    status = "done"
    frame_count = 10


class MoodRecordFactory(factory.django.DjangoModelFactory):
    """A stored record, for read-side tests (the write side is tested through the real model)."""

    class Meta:
        model = "moods.MoodRecord"

    batch = factory.SubFactory(FrameBatchFactory)
    patient = factory.SelfAttribute("batch.patient")
    frame_index = factory.Sequence(lambda n: n % 30000)
    face_index = 0
    captured_at = factory.LazyFunction(dj_timezone.now)
    mood = "neutral"
    p_positive = factory.LazyAttribute(lambda r: 0.7 if r.mood == "positive" else 0.1)
    p_negative = factory.LazyAttribute(lambda r: 0.7 if r.mood == "negative" else 0.1)
    p_neutral = factory.LazyAttribute(lambda r: 0.7 if r.mood == "neutral" else 0.1)
    p_other = factory.LazyAttribute(lambda r: 0.7 if r.mood == "other" else 0.1)
    box_x, box_y, box_w, box_h = 10, 20, 100, 120
    detection_score = 0.9
    model_version = "test-version"


def add_records(
    patient, when: datetime, mood: str, n: int = 1, *, frame_count: int | None = None,
    frames_with_face: int | None = None,
):
    """n records of one mood at `when`, in one done batch received and captured at that moment."""
    frame_count, frames_with_face = frame_count or n, frames_with_face or n
    batch = FrameBatchFactory(
        device__patient=patient, patient=patient, frame_count=frame_count, frames_with_face=frames_with_face,
        record_count=n,
    )
    type(batch).objects.filter(pk=batch.pk).update(received_at=when)
    for i in range(n):
        MoodRecordFactory(batch=batch, patient=patient, frame_index=i, captured_at=when, mood=mood)
    # as the ingest service does when a batch lands
    capture_slots_add(patient_id=patient.pk, frames=[(when, True, i < frames_with_face) for i in range(frame_count)])
    rollup_batches_fold(batch_ids=[batch.pk])
    return batch


class SelfReportFactory(factory.django.DjangoModelFactory):
    """A stored self-report, for read-side tests (the write side is tested through the endpoint)."""

    class Meta:
        model = "moods.SelfReport"

    device = factory.SubFactory(DeviceFactory)
    patient = factory.SelfAttribute("device.patient")
    report_id = factory.Faker("uuid4", cast_to=None)
    reported_at = factory.LazyFunction(dj_timezone.now)
    mood = "neutral"
