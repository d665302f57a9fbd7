"""Personas for dashboard tests: the patient's clinician, another clinician, an admin, anonymous."""
from datetime import datetime

import pytest
from django.test import Client

from tests.backend.conftest import admin_user, clinician, other_clinician, other_patient, patient  # noqa: F401 (fixtures)
from tests.backend.factories import FrameBatchFactory, MoodRecordFactory


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def clinician_web(clinician) -> Client:
    return logged_in(clinician)


@pytest.fixture
def other_clinician_web(other_clinician) -> Client:
    return logged_in(other_clinician)


@pytest.fixture
def admin_web(admin_user) -> Client:
    return logged_in(admin_user)


@pytest.fixture
def anonymous_web() -> Client:
    return Client()


def add_records(patient, when: datetime, mood: str, n: int = 1, *, frame_count: int | None = None, frames_with_face: int | None = None):
    """n records of one mood at `when`, in one done batch received at the same moment."""
    batch = FrameBatchFactory(
        device__patient=patient, patient=patient, frame_count=frame_count or n, frames_with_face=frames_with_face or n,
        record_count=n,
    )
    type(batch).objects.filter(pk=batch.pk).update(received_at=when)
    for i in range(n):
        MoodRecordFactory(batch=batch, patient=patient, frame_index=i, captured_at=when, mood=mood)
    return batch
