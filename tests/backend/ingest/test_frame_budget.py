"""DEVICE_FRAME_BUDGET_PER_HOUR: a device may upload so many frames an hour, then gets a 429 (issue 26)."""
import pytest

from backend.ingest.models import FrameBatch
from tests.backend.conftest import batch_payload

URL = "/api/v1/frame-batches/"


@pytest.fixture
def budget_of_five(settings):
    settings.MOODWATCH = {**settings.MOODWATCH, "DEVICE_FRAME_BUDGET_PER_HOUR": 5}


def test_frames_over_the_hourly_budget_are_refused_with_retry_after_and_nothing_is_stored(
    budget_of_five, device_client, face_jpeg
):
    assert device_client.post(URL, batch_payload([face_jpeg] * 3)).status_code == 202
    refused = device_client.post(URL, batch_payload([face_jpeg] * 3))
    assert refused.status_code == 429, refused.content
    assert refused.json()["code"] == "frame_budget_exceeded"
    assert 1 <= int(refused["Retry-After"]) <= 3600
    assert FrameBatch.objects.count() == 1
    assert device_client.post(URL, batch_payload([face_jpeg] * 2)).status_code == 202, "what is left still fits"
    assert device_client.post(URL, batch_payload([face_jpeg])).status_code == 429


def test_a_retry_of_a_stored_batch_is_not_counted_again(budget_of_five, device_client, face_jpeg):
    payload = batch_payload([face_jpeg] * 5)
    assert device_client.post(URL, payload).status_code == 202
    for _ in range(3):
        again = device_client.post(URL, batch_payload([face_jpeg] * 5, batch_id=payload["batch_id"],
                                                      captured_at=payload["captured_at"]))
        assert again.status_code == 200, again.content


def test_one_devices_spent_budget_does_not_touch_another_devices(
    budget_of_five, device_client, other_device_client, face_jpeg
):
    assert device_client.post(URL, batch_payload([face_jpeg] * 5)).status_code == 202
    assert device_client.post(URL, batch_payload([face_jpeg])).status_code == 429
    assert other_device_client.post(URL, batch_payload([face_jpeg] * 5)).status_code == 202


def test_a_refused_batch_gives_its_frames_back(budget_of_five, device_client, face_jpeg):
    assert device_client.post(URL, batch_payload([face_jpeg] * 4)).status_code == 202
    for _ in range(3):
        assert device_client.post(URL, batch_payload([face_jpeg] * 4)).status_code == 429
    assert device_client.post(URL, batch_payload([face_jpeg])).status_code == 202, "refusals spent nothing"


def test_a_budget_of_zero_means_no_limit(settings, device_client, face_jpeg):
    settings.MOODWATCH = {**settings.MOODWATCH, "DEVICE_FRAME_BUDGET_PER_HOUR": 0}
    for _ in range(3):
        assert device_client.post(URL, batch_payload([face_jpeg] * 20)).status_code == 202
