"""POST /api/v1/frame-batches/: acceptance, idempotency, and every refusal (nothing stored on any)."""
import io
import uuid
from datetime import timedelta

import cv2
import numpy as np
import pytest
from django.test import override_settings
from django.utils import timezone
from PIL import Image

from backend.ingest.models import Frame, FrameBatch
from tests.backend.conftest import batch_payload, recent

URL = "/api/v1/frame-batches/"


def settings_moodwatch() -> dict:
    from django.conf import settings

    return dict(settings.MOODWATCH)


def post(client, payload):
    return client.post(URL, payload, format="multipart")


def assert_nothing_stored():
    assert FrameBatch.objects.count() == 0
    assert Frame.objects.count() == 0


def assert_field_error(response, field, code, index=None):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    matches = [e for e in body["errors"] if e["field"] == field and e["code"] == code]
    assert matches, body
    if index is not None:
        assert matches[0]["index"] == index, body
    assert matches[0]["detail"]


# --- accepted ---------------------------------------------------------------------------------------

def test_a_valid_batch_is_stored_with_its_frames_and_answered_202(device_client, device, face_jpeg, face_png,
                                                                    django_capture_on_commit_callbacks):
    payload = batch_payload([face_jpeg, face_png, face_jpeg])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(device_client, payload)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["batch_id"] == payload["batch_id"]
    assert body["status"] == "queued"
    assert body["frames"] == 3
    assert body["received_at"]
    batch = FrameBatch.objects.get(batch_id=payload["batch_id"])
    assert (batch.device, batch.patient, batch.frame_count) == (device, device.patient, 3)
    frames = list(batch.frames.order_by("index"))
    assert [f.content_type for f in frames] == ["image/jpeg", "image/png", "image/jpeg"]
    assert bytes(frames[1].data) == face_png
    assert len(callbacks) == 1, "processing is enqueued once, after commit"


def test_timestamps_keep_each_frames_own_instant_and_offset(device_client, face_jpeg):
    payload = batch_payload(
        [face_jpeg, face_jpeg], captured_at=["2025-06-01T08:00:00+01:00", "2025-06-01T07:00:30Z"]
    )
    with override_settings(MOODWATCH={**settings_moodwatch(), "MAX_FRAME_AGE": timedelta(days=3650)}):
        assert post(device_client, payload).status_code == 202
    frames = Frame.objects.order_by("index")
    assert frames[0].captured_at.isoformat() == "2025-06-01T07:00:00+00:00"
    assert frames[1].captured_at - frames[0].captured_at == timedelta(seconds=30)


def test_an_accepted_upload_refreshes_the_devices_last_seen(device_client, device, face_jpeg):
    device.__class__.objects.filter(pk=device.pk).update(last_seen=timezone.now() - timedelta(days=1))
    assert post(device_client, batch_payload([face_jpeg])).status_code == 202
    device.refresh_from_db()
    assert timezone.now() - device.last_seen < timedelta(seconds=30)


# --- idempotency ------------------------------------------------------------------------------------

def test_the_same_batch_again_is_answered_200_and_nothing_is_stored_twice(device_client, face_jpeg, face_png,
                                                                           django_capture_on_commit_callbacks):
    batch_id, times = uuid.uuid4(), [recent(30), recent(20)]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = post(device_client, batch_payload([face_jpeg, face_png], batch_id=batch_id, captured_at=times))
        again = post(device_client, batch_payload([face_jpeg, face_png], batch_id=batch_id, captured_at=times))
    assert first.status_code == 202
    assert again.status_code == 200, again.content
    assert again.json() == {
        "batch_id": str(batch_id), "status": "queued", "frames": 2, "frames_with_face": 0, "records": 0,
        "error": "", "received_at": first.json()["received_at"],
    }
    assert FrameBatch.objects.count() == 1
    assert Frame.objects.count() == 2
    assert len(callbacks) == 1, "a replay is not enqueued again"


def test_the_same_batch_id_with_different_frames_is_a_409(device_client, face_jpeg, face_png):
    batch_id, times = uuid.uuid4(), [recent(30)]
    assert post(device_client, batch_payload([face_jpeg], batch_id=batch_id, captured_at=times)).status_code == 202
    response = post(device_client, batch_payload([face_png], batch_id=batch_id, captured_at=times))
    assert response.status_code == 409
    assert response.json()["code"] == "batch_id_conflict"
    assert Frame.objects.count() == 1
    assert bytes(Frame.objects.get().data) == face_jpeg


def test_the_same_batch_id_with_different_timestamps_is_a_409(device_client, face_jpeg):
    batch_id = uuid.uuid4()
    first = post(device_client, batch_payload([face_jpeg], batch_id=batch_id, captured_at=[recent(30)]))
    assert first.status_code == 202
    response = post(device_client, batch_payload([face_jpeg], batch_id=batch_id, captured_at=[recent(90)]))
    assert response.status_code == 409
    assert response.json()["code"] == "batch_id_conflict"


def test_two_devices_may_use_the_same_batch_id(device_client, other_device_client, face_jpeg):
    batch_id = uuid.uuid4()
    assert post(device_client, batch_payload([face_jpeg], batch_id=batch_id)).status_code == 202
    assert post(other_device_client, batch_payload([face_jpeg], batch_id=batch_id)).status_code == 202
    assert FrameBatch.objects.filter(batch_id=batch_id).count() == 2


# --- 400: each validation problem names its field, and nothing is stored ------------------------------

def test_more_timestamps_than_frames_is_refused(device_client, face_jpeg):
    response = post(device_client, batch_payload([face_jpeg], captured_at=[recent(10), recent(5)]))
    assert_field_error(response, "captured_at", "count_mismatch")
    assert_nothing_stored()


def test_fewer_timestamps_than_frames_is_refused(device_client, face_jpeg):
    response = post(device_client, batch_payload([face_jpeg, face_jpeg], captured_at=[recent(10)]))
    assert_field_error(response, "captured_at", "count_mismatch")
    assert_nothing_stored()


def test_a_batch_without_frames_is_refused(device_client):
    response = post(device_client, {"batch_id": str(uuid.uuid4()), "captured_at": [recent()]})
    assert_field_error(response, "frames", "required")
    assert_nothing_stored()


def test_a_missing_batch_id_is_refused(device_client, face_jpeg):
    payload = batch_payload([face_jpeg])
    del payload["batch_id"]
    assert_field_error(post(device_client, payload), "batch_id", "required")
    assert_nothing_stored()


def test_a_batch_id_that_is_not_a_uuid_is_refused(device_client, face_jpeg):
    response = post(device_client, batch_payload([face_jpeg], batch_id="batch-42"))
    assert_field_error(response, "batch_id", "invalid_uuid")
    assert_nothing_stored()


def test_a_file_that_is_not_an_image_is_refused_with_its_index(device_client, face_jpeg):
    response = post(device_client, batch_payload([face_jpeg, b"%PDF-1.7 definitely not a photo"]))
    assert_field_error(response, "frames", "not_an_image", index=1)
    assert_nothing_stored()


def test_a_truncated_jpeg_is_refused_as_undecodable(device_client, face_jpeg):
    response = post(device_client, batch_payload([face_jpeg[: len(face_jpeg) // 2]]))
    assert_field_error(response, "frames", "undecodable_image", index=0)
    assert_nothing_stored()


@pytest.mark.parametrize("kept_after_sos", [40, None], ids=["part of the scan", "no scan byte at all"])
def test_a_jpeg_cut_off_right_after_its_header_is_refused_as_undecodable(device_client, face_jpeg, kept_after_sos):
    sos = face_jpeg.index(b"\xff\xda")  # start-of-scan marker: the header is complete
    scan_start = sos + 2 + int.from_bytes(face_jpeg[sos + 2:sos + 4], "big")  # after the SOS segment
    cut = face_jpeg[: sos + kept_after_sos] if kept_after_sos else face_jpeg[:scan_start]
    response = post(device_client, batch_payload([face_jpeg, cut]))
    assert_field_error(response, "frames", "undecodable_image", index=1)
    assert_nothing_stored()


def with_header_segment(jpeg: bytes, payload: bytes) -> bytes:
    """The JPEG with an APP15 segment holding `payload` right after its start-of-image marker."""
    return jpeg[:2] + b"\xff\xef" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


def test_a_cut_off_jpeg_is_refused_even_when_its_header_holds_an_end_marker(device_client, face_jpeg):
    # an EXIF thumbnail is a whole JPEG inside the header: its end marker is not the frame's
    with_thumbnail = with_header_segment(face_jpeg, b"thumbnail \xff\xd8 ... \xff\xda ... \xff\xd9")
    response = post(device_client, batch_payload([with_thumbnail, with_thumbnail[: len(with_thumbnail) // 2]]))
    assert_field_error(response, "frames", "undecodable_image", index=1)
    assert [e["index"] for e in response.json()["errors"]] == [1]
    assert_nothing_stored()


@pytest.mark.parametrize("cut", range(0, 700, 7))
def test_a_jpeg_cut_anywhere_in_its_header_is_refused_with_a_400(device_client, face_jpeg, cut):
    response = post(device_client, batch_payload([face_jpeg[:cut]]))
    assert response.status_code == 400, response.content
    assert {e["code"] for e in response.json()["errors"]} <= {"undecodable_image", "not_an_image"}


def test_a_jpeg_with_a_phone_makers_trailer_after_its_end_marker_is_accepted(device_client, face_jpeg):
    response = post(device_client, batch_payload([face_jpeg + b"SEFH" + bytes(range(256)) * 8]))
    assert response.status_code == 202, response.content
    assert FrameBatch.objects.get().frame_count == 1


def test_a_truncated_or_corrupted_png_is_refused_as_undecodable(device_client, face_png):
    corrupted = bytearray(face_png)
    corrupted[len(corrupted) // 2] ^= 0xFF  # one flipped byte inside the pixel data: its CRC fails
    response = post(device_client, batch_payload([face_png[: len(face_png) // 2], bytes(corrupted)]))
    assert_field_error(response, "frames", "undecodable_image")
    assert [(e["index"], e["code"]) for e in response.json()["errors"]] == [(0, "undecodable_image"),
                                                                             (1, "undecodable_image")]
    assert_nothing_stored()


def test_an_image_in_another_format_is_refused(device_client):
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "gray").save(out, format="GIF")
    response = post(device_client, batch_payload([out.getvalue()]))
    assert_field_error(response, "frames", "unsupported_image_type", index=0)
    assert_nothing_stored()


def test_more_frames_than_the_limit_is_refused(device_client, settings, face_jpeg):
    settings.MOODWATCH = {**settings.MOODWATCH, "MAX_FRAMES_PER_BATCH": 3}
    response = post(device_client, batch_payload([face_jpeg] * 4))
    assert_field_error(response, "frames", "too_many_frames")
    assert_nothing_stored()


def test_sixty_one_frames_exceed_the_default_limit(device_client):
    tiny = io.BytesIO()
    Image.new("RGB", (32, 32), "white").save(tiny, format="JPEG")
    response = post(device_client, batch_payload([tiny.getvalue()] * 61))
    assert_field_error(response, "frames", "too_many_frames")
    assert_nothing_stored()


def test_a_frame_over_the_size_limit_is_refused(device_client, settings, face_jpeg):
    settings.MOODWATCH = {**settings.MOODWATCH, "MAX_FRAME_BYTES": len(face_jpeg) - 1}
    response = post(device_client, batch_payload([face_jpeg]))
    assert_field_error(response, "frames", "frame_too_large", index=0)
    assert_nothing_stored()


def test_a_frame_of_more_than_2_mb_is_refused_by_default(device_client):
    noise = io.BytesIO()
    Image.effect_noise((1400, 1400), 120).convert("RGB").save(noise, format="PNG")
    assert noise.tell() > 2 * 1024 * 1024
    response = post(device_client, batch_payload([noise.getvalue()]))
    assert_field_error(response, "frames", "frame_too_large", index=0)
    assert_nothing_stored()


def test_a_frame_over_the_pixel_limit_is_refused_before_decoding(device_client, settings, face_jpeg):
    settings.MOODWATCH = {**settings.MOODWATCH, "MAX_FRAME_PIXELS": 100 * 100}
    response = post(device_client, batch_payload([face_jpeg]))
    assert_field_error(response, "frames", "too_many_pixels", index=0)
    assert_nothing_stored()


def test_a_timestamp_without_offset_is_refused_with_its_index(device_client, face_jpeg):
    naive = timezone.now().replace(tzinfo=None).isoformat()
    response = post(device_client, batch_payload([face_jpeg, face_jpeg], captured_at=[recent(), naive]))
    assert_field_error(response, "captured_at", "timestamp_without_offset", index=1)
    assert_nothing_stored()


def test_a_timestamp_that_is_not_iso_8601_is_refused(device_client, face_jpeg):
    response = post(device_client, batch_payload([face_jpeg], captured_at=["yesterday at noon"]))
    assert_field_error(response, "captured_at", "invalid_timestamp", index=0)
    assert_nothing_stored()


def test_a_timestamp_more_than_five_minutes_in_the_future_is_refused(device_client, face_jpeg):
    future = (timezone.now() + timedelta(minutes=6)).isoformat()
    response = post(device_client, batch_payload([face_jpeg], captured_at=[future]))
    assert_field_error(response, "captured_at", "timestamp_in_future", index=0)
    assert_nothing_stored()


def test_a_timestamp_slightly_ahead_of_the_server_clock_is_accepted(device_client, face_jpeg):
    ahead = (timezone.now() + timedelta(minutes=4)).isoformat()
    assert post(device_client, batch_payload([face_jpeg], captured_at=[ahead])).status_code == 202


def test_a_timestamp_older_than_the_maximum_age_is_refused(device_client, face_jpeg):
    old = (timezone.now() - timedelta(days=8)).isoformat()
    response = post(device_client, batch_payload([face_jpeg], captured_at=[old]))
    assert_field_error(response, "captured_at", "timestamp_too_old", index=0)
    assert_nothing_stored()


def test_every_problem_in_a_batch_is_reported_at_once(device_client, face_jpeg):
    naive = timezone.now().replace(tzinfo=None).isoformat()
    response = post(device_client, batch_payload([b"not an image", face_jpeg], captured_at=[recent(), naive]))
    assert response.status_code == 400
    codes = {(e["field"], e["code"], e.get("index")) for e in response.json()["errors"]}
    assert codes == {("frames", "not_an_image", 0), ("captured_at", "timestamp_without_offset", 1)}


def test_a_json_body_is_refused_with_415(device_client):
    response = device_client.post(URL, {"batch_id": str(uuid.uuid4())}, format="json")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


# --- 401 / 403 --------------------------------------------------------------------------------------

def test_an_upload_without_a_token_is_a_401(db, client, face_jpeg):
    response = client.post(URL, batch_payload([face_jpeg]))
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Device")
    assert_nothing_stored()


def test_an_upload_with_an_unknown_token_is_a_401(unknown_device_client, face_jpeg):
    response = post(unknown_device_client, batch_payload([face_jpeg]))
    assert response.status_code == 401
    assert response.json()["code"] == "device_token_invalid"
    assert_nothing_stored()


def test_an_upload_with_a_tampered_secret_is_a_401(device, face_jpeg):
    from tests.backend.conftest import client_with_device_token

    lookup_id, _, secret = device.token.partition(".")
    tampered = client_with_device_token(f"{lookup_id}.{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}")
    assert post(tampered, batch_payload([face_jpeg])).status_code == 401
    assert_nothing_stored()


def test_an_upload_from_a_revoked_device_is_a_401(revoked_device_client, face_jpeg):
    response = post(revoked_device_client, batch_payload([face_jpeg]))
    assert response.status_code == 401
    assert response.json()["code"] == "device_revoked"
    assert_nothing_stored()


def test_a_malformed_authorization_header_is_a_401(face_jpeg):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Device")
    assert post(client, batch_payload([face_jpeg])).status_code == 401


def test_a_clinician_session_cannot_upload_frames(client, clinician, face_jpeg):
    client.force_login(clinician)
    assert client.post(URL, batch_payload([face_jpeg])).status_code == 401
    assert_nothing_stored()


def test_an_upload_for_a_patient_without_consent_is_a_403(device_client, patient, face_jpeg):
    patient.consent_recorded_at = None
    patient.save()
    response = post(device_client, batch_payload([face_jpeg]))
    assert response.status_code == 403
    assert response.json()["code"] == "consent_missing"
    assert_nothing_stored()


def test_an_upload_for_an_inactive_patient_is_a_403(device_client, patient, face_jpeg):
    patient.is_active = False
    patient.save()
    response = post(device_client, batch_payload([face_jpeg]))
    assert response.status_code == 403
    assert response.json()["code"] == "patient_inactive"
    assert_nothing_stored()


@pytest.mark.parametrize("bad_header", ["Bearer abc", "Token abc"])
def test_other_authorization_schemes_are_not_device_tokens(bad_header, face_jpeg, db):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bad_header)
    assert post(client, batch_payload([face_jpeg])).status_code == 401


def test_an_absurd_number_of_files_is_a_json_400_not_a_crash(device_client):
    tiny = io.BytesIO()
    Image.new("RGB", (16, 16), "white").save(tiny, format="JPEG")
    response = post(device_client, batch_payload([tiny.getvalue()] * 200))
    assert response.status_code == 400
    assert response.json()["code"] in ("bad_request", "validation_error")
    assert_nothing_stored()


# --- decode bound: what a frame may cost the worker's decoder (docs/security.md) -----------------------

def progressive_jpeg(face_jpeg: bytes, width: int | None = None) -> bytes:
    """The face photo re-encoded as libjpeg's progressive JPEG (Pillow's progressive=True)."""
    image = Image.open(io.BytesIO(face_jpeg))
    if width:
        image = image.resize((width, width * image.height // image.width))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85, progressive=True)
    return out.getvalue()


def with_last_scan_repeated(jpeg: bytes, times: int) -> bytes:
    """The decode bomb: the last refinement scan (its SOS segment and entropy-coded data) repeated
    before EOI. Every copy is another pass of the decoder over the whole frame."""
    eoi = jpeg.rindex(b"\xff\xd9")
    last_scan = jpeg.rindex(b"\xff\xda", 0, eoi)
    return jpeg[:eoi] + jpeg[last_scan:eoi] * times + jpeg[eoi:]


def test_a_progressive_jpeg_with_its_refinement_scan_repeated_thousands_of_times_is_refused(
    device_client, face_jpeg
):
    # a small frame, so that its last scan is a few hundred bytes and 3,000 copies fit the size limit
    bomb = with_last_scan_repeated(progressive_jpeg(face_jpeg, width=96), 3000)
    assert len(bomb) <= settings_moodwatch()["MAX_FRAME_BYTES"], "the bomb fits the size limit: scans must stop it"
    response = post(device_client, batch_payload([face_jpeg, bomb]))
    assert_field_error(response, "frames", "too_many_scans", index=1)
    assert [e["index"] for e in response.json()["errors"]] == [1]
    assert_nothing_stored()


def test_the_scan_limit_is_exact_and_a_setting(device_client, settings, face_jpeg):
    progressive = progressive_jpeg(face_jpeg)
    scans = progressive.count(b"\xff\xda")
    settings.MOODWATCH = {**settings.MOODWATCH, "MAX_JPEG_SCANS": scans + 2}
    at_limit, over = with_last_scan_repeated(progressive, 2), with_last_scan_repeated(progressive, 3)
    assert post(device_client, batch_payload([at_limit])).status_code == 202
    assert_field_error(post(device_client, batch_payload([over])), "frames", "too_many_scans", index=0)


def test_progressive_and_baseline_camera_jpegs_are_accepted(device_client, face_jpeg):
    progressive = progressive_jpeg(face_jpeg)
    assert progressive.count(b"\xff\xda") == 10, "libjpeg's progressive script for a colour frame"
    response = post(device_client, batch_payload([face_jpeg, progressive]))
    assert response.status_code == 202, response.content
    assert FrameBatch.objects.get().frame_count == 2


def test_stuffed_bytes_and_restart_markers_inside_a_scan_are_not_taken_for_scans(device_client, settings, face_jpeg):
    """0xFF in the compressed data is written FF 00, and restart markers FF D0-D7 sit inside a scan:
    a walk that stopped at any 0xFF would count false scans or find a false end. A photo with a
    restart interval has both; with the scan limit at its real number of scans it must pass."""
    out = io.BytesIO()
    Image.open(io.BytesIO(face_jpeg)).save(out, format="JPEG", quality=95, progressive=True, restart_marker_blocks=1)
    jpeg = out.getvalue()
    eoi = jpeg.rindex(b"\xff\xd9")
    assert jpeg.count(b"\xff\x00") > 100 and jpeg.count(b"\xff\xd0") > 10
    true_scans = jpeg.count(b"\xff\xda")
    settings.MOODWATCH = {**settings.MOODWATCH, "MAX_JPEG_SCANS": true_scans}
    assert post(device_client, batch_payload([jpeg])).status_code == 202
    # an end-of-image marker hidden as stuffed data is not the frame's end: cut before the real one
    assert_field_error(post(device_client, batch_payload([jpeg[:eoi - 50]])), "frames", "undecodable_image")


def test_a_zero_filled_2800x2800_png_is_refused_before_any_pixel_is_inflated(device_client):
    out = io.BytesIO()
    Image.new("RGB", (2800, 2800)).save(out, format="PNG")
    assert len(out.getvalue()) < 64 * 1024, "a thousand to one: its size says nothing of its decode"
    response = post(device_client, batch_payload([out.getvalue()]))
    assert_field_error(response, "frames", "too_many_pixels", index=0)
    assert_nothing_stored()


def test_a_png_whose_data_would_inflate_past_the_limit_is_refused(device_client, settings, face_png):
    """16-bit RGBA is 8 bytes a pixel: a small frame by pixels, a large one for the inflater."""
    width, height = Image.open(io.BytesIO(face_png)).size
    ok, deep = cv2.imencode(".png", np.zeros((height, width, 4), dtype=np.uint16))
    assert ok
    decoded = height * (1 + width * 8)  # a filter byte and 8 bytes a pixel, every row
    settings.MOODWATCH = {**settings.MOODWATCH, "MAX_PNG_DECODED_BYTES": decoded - 1}
    response = post(device_client, batch_payload([face_png, deep.tobytes()]))
    assert_field_error(response, "frames", "decoded_size_too_large", index=1)
    assert [e["index"] for e in response.json()["errors"]] == [1], "the same frame in 8-bit RGB passes"
    assert_nothing_stored()
    settings.MOODWATCH = {**settings.MOODWATCH, "MAX_PNG_DECODED_BYTES": decoded}
    assert post(device_client, batch_payload([deep.tobytes()])).status_code == 202
