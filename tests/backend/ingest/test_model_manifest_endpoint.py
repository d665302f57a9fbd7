"""GET /api/v1/model/ (device token) and the model files it names, served by SHA-256 with immutable
caching: the manifest's numbers are the server pipeline's own, and hostile requests get clean 4xx."""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from backend.patients.models import InferenceMode
from inference import MoodEstimator, detection
from inference import estimator as estimator_module
from inference.estimator import DEFAULT_MODEL, browser_model_path
from tests.backend.factories import DeviceFactory

MANIFEST = "/api/v1/model/"


@pytest.fixture
def manifest(device_client):
    response = device_client.get(MANIFEST)
    assert response.status_code == 200, response.content
    return response.json()


def test_the_manifest_has_the_issues_fields_and_the_served_models_version(manifest):
    assert {"version", "moods", "mode", "sampling_seconds", "files"} <= set(manifest)
    assert manifest["version"] == MoodEstimator.load().version
    assert manifest["moods"] == ["positive", "negative", "neutral", "other"]
    assert set(manifest["files"]) == {"classifier", "detector"}
    for entry in manifest["files"].values():
        assert set(entry) == {"url", "sha256", "bytes"}
        assert entry["sha256"] in entry["url"]


def test_its_files_are_the_browser_copy_of_the_served_model_and_the_servers_blazeface_file(manifest):
    classifier = browser_model_path(DEFAULT_MODEL).read_bytes()
    detector = (detection.model_dir() / detection.MODELS["short"].filename).read_bytes()
    for entry, content in ((manifest["files"]["classifier"], classifier), (manifest["files"]["detector"], detector)):
        assert entry["sha256"] == hashlib.sha256(content).hexdigest() and entry["bytes"] == len(content)
    assert manifest["files"]["classifier"]["bytes"] + manifest["files"]["detector"]["bytes"] < 1_500_000


def test_its_processing_numbers_are_read_from_the_server_pipeline(manifest):
    spec = detection.MODELS["short"]
    assert manifest["detector"] == {
        "model": spec.filename, "input_size": spec.input_size, "side_multiple": spec.side_multiple,
        "strides": list(spec.strides), "interpolated_scale_aspect_ratio": spec.interpolated_scale_aspect_ratio,
        "input_range": [-1.0, 1.0], "min_score": detection.MIN_SCORE, "raw_score_limit": detection.RAW_SCORE_LIMIT,
        "nms_iou": detection.NMS_IOU, "max_roll_degrees": detection.MAX_ROLL_DEG,
    }
    assert manifest["classifier"] == {
        "input_size": 48, "grayscale": True, "input_range": [0.0, 255.0], "mirror_average": True,
        "crop_margin": estimator_module.CROP_MARGIN, "crop_shift_up": estimator_module.CROP_SHIFT_UP,
    }
    assert manifest["frame"] == {"min_side": estimator_module.MIN_SIDE}


def test_the_mode_is_the_patients_and_the_sampling_rate_a_setting(device, device_client):
    device.patient.inference_mode = InferenceMode.ON_DEVICE
    device.patient.save()
    assert device_client.get(MANIFEST).json()["mode"] == InferenceMode.ON_DEVICE
    device.patient.inference_mode = InferenceMode.FRAMES
    device.patient.save()
    with override_settings(MOODWATCH={**settings.MOODWATCH, "DEVICE_SAMPLING_SECONDS": 2.5}):
        body = device_client.get(MANIFEST).json()
    assert body["mode"] == "frames" and body["sampling_seconds"] == 2.5


def test_the_manifest_is_never_cached(device_client):
    assert device_client.get(MANIFEST)["Cache-Control"] == "no-store"


@pytest.mark.parametrize("client_fixture", ["unknown_device_client", "revoked_device_client"])
def test_without_a_valid_device_token_the_manifest_is_401_json(request, client_fixture):
    response = request.getfixturevalue(client_fixture).get(MANIFEST)
    assert response.status_code == 401
    assert set(response.json()) >= {"code", "detail"}


@pytest.mark.django_db
def test_no_token_and_a_clinicians_session_both_get_no_manifest(clinician):
    assert APIClient().get(MANIFEST).status_code == 401
    session = APIClient()
    session.force_authenticate(clinician)
    assert session.get(MANIFEST).status_code == 403


@pytest.mark.parametrize("header", ["Device", "Device a b", "Bearer x", "Device \u00e9t\u00e9", "Device " + "x" * 5000])
@pytest.mark.django_db
def test_malformed_authorization_headers_get_4xx_json(header):
    response = APIClient().get(MANIFEST, HTTP_AUTHORIZATION=header.encode("utf-8").decode("latin-1"))
    assert response.status_code in (401, 403)
    assert "code" in response.json()


@pytest.mark.django_db
def test_an_inactive_patients_phone_still_reads_the_manifest(patient):
    # the manifest holds no patient data but the mode; uploads are what consent and activity gate
    patient.is_active = False
    patient.save()
    device = DeviceFactory(patient=patient)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Device {device.token}")
    assert client.get(MANIFEST).status_code == 200


# --- the files --------------------------------------------------------------------------------------


def test_each_file_is_served_immutable_with_its_etag_and_content_type(manifest):
    anonymous = APIClient()  # the files need no token (public model weights, the same for every device)
    for role, entry in manifest["files"].items():
        response = anonymous.get(entry["url"])
        assert response.status_code == 200, role
        body = b"".join(response) if response.streaming else response.content
        assert hashlib.sha256(body).hexdigest() == entry["sha256"] and len(body) == entry["bytes"]
        assert response["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response["ETag"] == f'"{entry["sha256"]}"'
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Length"] == str(entry["bytes"])
        assert entry["url"] == f"/api/v1/model/files/{entry['sha256']}/{role}.tflite"


def test_a_matching_if_none_match_gets_304_without_a_body(manifest):
    entry = manifest["files"]["classifier"]
    response = APIClient().get(entry["url"], HTTP_IF_NONE_MATCH=f'"0000", "{entry["sha256"]}"')
    assert response.status_code == 304 and response.content == b""
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"


def forged_urls(manifest) -> list[str]:
    classifier, detector = manifest["files"]["classifier"], manifest["files"]["detector"]
    sha = classifier["sha256"]
    return [
        f"/api/v1/model/files/{'0' * 64}/classifier.tflite",  # a hash never served
        f"/api/v1/model/files/{sha.upper()}/classifier.tflite",  # not the canonical spelling
        f"/api/v1/model/files/{sha[:-1]}/classifier.tflite",  # one digit short
        f"/api/v1/model/files/{sha}0/classifier.tflite",
        f"/api/v1/model/files/{sha}/detector.tflite",  # the classifier's hash under the detector's name
        f"/api/v1/model/files/{detector['sha256']}/classifier.tflite",
        f"/api/v1/model/files/{sha}/classifier.tflite.bak",
        f"/api/v1/model/files/{sha}/..%2F..%2Fsettings.py",
        f"/api/v1/model/files/{sha}/%2e%2e",
        "/api/v1/model/files/..%2F..%2F..%2Fetc%2Fpasswd/classifier.tflite",
        f"/api/v1/model/files/{sha}/",
        "/api/v1/model/files/",
    ]


def test_forged_hashes_names_and_traversal_get_404_json(manifest):
    for url in forged_urls(manifest):
        response = APIClient().get(url)
        assert response.status_code == 404, url
        assert response.json()["code"] == "not_found", url
        assert response["Cache-Control"] == "no-store", url


def test_a_nul_byte_in_the_name_is_a_400_json_not_a_file(manifest):
    sha = manifest["files"]["classifier"]["sha256"]
    response = APIClient().get(f"/api/v1/model/files/{sha}/classifier.tflite%00")
    assert response.status_code == 400 and "code" in response.json()


def test_the_files_refuse_writes(manifest):
    url = manifest["files"]["detector"]["url"]
    for method in ("post", "put", "delete", "patch"):
        response = getattr(APIClient(), method)(url, b"x", content_type="application/octet-stream")
        assert response.status_code in (401, 403, 405), method


@pytest.fixture
def served_model_without_browser_copy(tmp_path, settings):
    """A deployed model (MOOD_MODEL_PATH) whose browser copy was never written."""
    for name in (DEFAULT_MODEL.name, "model_card.json"):
        (tmp_path / name).write_bytes((DEFAULT_MODEL.parent / name).read_bytes())
    settings.MOODWATCH = {**settings.MOODWATCH, "MODEL_PATH": str(tmp_path / DEFAULT_MODEL.name)}


def test_a_served_model_without_its_browser_copy_is_a_503_json_not_a_500(served_model_without_browser_copy,
                                                                          device_client):
    response = device_client.get(MANIFEST)
    assert response.status_code == 503
    assert response.json()["code"] == "on_device_model_missing"
    assert "training export" in response.json()["detail"]
    detector_sha = hashlib.sha256((detection.model_dir() / detection.MODELS["short"].filename).read_bytes()).hexdigest()
    assert APIClient().get(f"/api/v1/model/files/{detector_sha}/detector.tflite").status_code == 404


def test_the_web_process_loads_numpy_only_when_a_phone_asks_and_never_litert():
    """The URL configuration imports no numpy; reading the manifest's numbers and the files' hashes
    brings numpy (inference.detection) but not LiteRT: the version and input size come from the card."""
    script = (
        "import sys, django; django.setup()\n"
        "import backend.urls\n"
        "from django.urls import resolve; resolve('/api/v1/model/')\n"
        "before = 'numpy' in sys.modules\n"
        "from backend.ingest.model_manifest import _served_model, model_files, served_model_path\n"
        "model_files(); _served_model(served_model_path())\n"
        "print(before, 'ai_edge_litert' in sys.modules)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "backend.settings"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120,
                            cwd=Path(__file__).resolve().parents[3])
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["False", "False"]
