"""Browser fixtures: Debian's chromium through Playwright, and a patient whose phone enrolled with a
real code and uploaded real photos through the API (processed by the real model, in process)."""
import io
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from PIL import Image, ImageOps
from rest_framework.test import APIClient

from backend.moods.models import MoodRecord
from tests.backend.factories import PatientFactory, UserFactory
from tests.support import PASSWORD

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def log_in(page, live_server, username):
    """Through the login form, as a clinician would; waits for the patient list."""
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/patients/")


def frames_from(sample_images_dir: Path) -> list[bytes]:
    """Phone-sized JPEGs of real faces, with simple variations (mirror, crop, contrast)."""
    out = []
    for name in ["obama1.jpg", "obama-480p.jpg", "obama-720p.jpg", "two_people.jpg"]:
        image = Image.open(sample_images_dir / name).convert("RGB")
        image = image.resize((640, round(image.height * 640 / image.width)))
        for variant in (
            image, ImageOps.mirror(image), ImageOps.autocontrast(image, cutoff=5),
            ImageOps.grayscale(image).convert("RGB"),
        ):
            buffer = io.BytesIO()
            variant.save(buffer, format="JPEG", quality=85)
            out.append(buffer.getvalue())
    return out


@pytest.fixture
def monitored_patient(transactional_db, sample_images_dir, eager_tasks):
    """A patient whose phone enrolled with a real code and uploaded real photos over six days."""
    clinician = UserFactory(username="dr_browser")
    patient = PatientFactory(reference="P-BROWSER", display_name="Alex Martin", clinicians=[clinician])
    return phone_uploads(patient, clinician, sample_images_dir)


def phone_uploads(patient, clinician, sample_images_dir):
    """Enroll a phone for the patient with a real code, then upload real photos over six days."""
    api = APIClient()
    api.force_authenticate(clinician)
    code = api.post(f"/api/v1/patients/{patient.pk}/enrollment-codes/").json()["code"]
    enrolled = APIClient().post("/api/v1/devices/enroll/", {"code": code, "label": "Pixel 7"}, format="json")
    token = enrolled.json()["token"]
    phone = APIClient()
    phone.credentials(HTTP_AUTHORIZATION=f"Device {token}")
    frames = frames_from(sample_images_dir)
    now = timezone.now()
    from django.core.files.uploadedfile import SimpleUploadedFile

    for day in range(6):
        for hour in (9, 14, 19):
            moment = (now - timedelta(days=day)).replace(hour=hour, minute=0) - timedelta(minutes=10)
            if moment >= now:
                continue
            chosen = [frames[(day * 3 + hour + i) % len(frames)] for i in range(6)]
            response = phone.post("/api/v1/frame-batches/", {
                "batch_id": str(uuid.uuid4()),
                "frames": [
                    SimpleUploadedFile(f"f{i}.jpg", data, content_type="image/jpeg") for i, data in enumerate(chosen)
                ],
                "captured_at": [(moment + timedelta(seconds=5 * i)).isoformat() for i in range(len(chosen))],
            })
            assert response.status_code == 202, response.content
    assert MoodRecord.objects.filter(patient=patient).count() > 50
    return patient


@pytest.fixture
def page(monkeypatch):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    # Playwright's sync API runs an event loop in this thread; undone after the test (it must not
    # leak into later tests, e.g. the deploy check, which refuses this variable).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
        yield context.new_page()
        browser.close()


