"""GET /api/v1/frame-batches/{batch_id}/: a device sees its own batches only."""
import uuid

from tests.backend.conftest import batch_payload

URL = "/api/v1/frame-batches/"


def upload(client, frame) -> str:
    payload = batch_payload([frame])
    assert client.post(URL, payload, format="multipart").status_code == 202
    return payload["batch_id"]


def test_a_device_reads_the_state_of_its_own_batch(device_client, face_jpeg):
    batch_id = upload(device_client, face_jpeg)
    response = device_client.get(f"{URL}{batch_id}/")
    assert response.status_code == 200
    assert response.json() == {
        "batch_id": batch_id, "status": "queued", "frames": 1, "frames_with_face": 0, "records": 0, "error": "",
    }


def test_a_device_cannot_read_another_devices_batch(device_client, other_device_client, face_jpeg):
    batch_id = upload(device_client, face_jpeg)
    response = other_device_client.get(f"{URL}{batch_id}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_an_unknown_batch_id_is_a_404(device_client):
    assert device_client.get(f"{URL}{uuid.uuid4()}/").status_code == 404


def test_a_batch_id_that_is_not_a_uuid_is_a_404_in_json(device_client):
    response = device_client.get(f"{URL}not-a-uuid/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_reading_a_batch_needs_a_device_token(client, db):
    assert client.get(f"{URL}{uuid.uuid4()}/").status_code == 401


def test_a_revoked_device_cannot_read_batches(revoked_device_client):
    assert revoked_device_client.get(f"{URL}{uuid.uuid4()}/").status_code == 401


def test_an_unknown_device_cannot_read_batches(unknown_device_client):
    assert unknown_device_client.get(f"{URL}{uuid.uuid4()}/").status_code == 401
