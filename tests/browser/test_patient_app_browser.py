"""The patient app (/app/) in a real browser: Debian's chromium with a fake front camera (a y4m made by
ffmpeg from real face photos), on the live server, with the real device API behind it.

A patient in on_device mode enrolls from the link's #fragment, runs a check-in, answers "How do you
feel right now?", and the clinician sees the records on the patient's page. The server never
receives a frame byte: no Frame row, and every request body the page sends is recorded and checked.
Offline, then online: every record arrives once.

Screenshots (phone, 390x844) go to var/screenshots/patient-app-*.png; docs/images/ keeps copies.
"""
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.test.testcases import LiveServerThread

from backend.devices.services import enrollment_code_issue
from backend.ingest.models import Frame, FrameBatch
from backend.moods.models import MoodRecord
from backend.patients.models import InferenceMode
from tests.backend.factories import PatientFactory, UserFactory
from tests.browser.conftest import CHROMIUM, FLAGS, SCREENSHOTS
from tests.support import PASSWORD

PHONE = {"width": 390, "height": 844}
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"data:image", b"RIFF", b"GIF8")


@pytest.fixture
def fake_camera(tmp_path, sample_images_dir) -> Path:
    """A 640x480 y4m of a real face; Chromium loops it as the front camera."""
    if not shutil.which("ffmpeg"):
        pytest.fail("ffmpeg is missing: `make test` installs it (the chromium target)")
    out = tmp_path / "camera.y4m"
    subprocess.run([
        "ffmpeg", "-loglevel", "error", "-y", "-loop", "1", "-i", str(sample_images_dir / "obama1.jpg"),
        "-t", "3", "-r", "5", "-pix_fmt", "yuv420p",
        "-vf", "scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2",
        str(out),
    ], check=True, timeout=120)
    return out


@pytest.fixture
def chromium(monkeypatch, fake_camera):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS + [
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={fake_camera}",
        ])
        yield browser
        browser.close()


def enrollment_link(live_server, *, mode: str):
    clinician = UserFactory(username=f"dr_app_{mode}")
    patient = PatientFactory(reference=f"P-APP-{mode.upper()}", display_name="Sam Lee", clinicians=[clinician],
                             inference_mode=mode)
    _, code = enrollment_code_issue(patient=patient, actor=clinician)
    return patient, f"{live_server.url}/app/#enroll={code}"


class RequestLog:
    """Every request the phone's page (and its service worker) sends, with its body."""

    def __init__(self, context):
        self.requests = []
        context.on("request", lambda request: self.requests.append(request))

    def posts(self):
        return [r for r in self.requests if r.method != "GET"]


def assert_no_image_left_the_phone(log):
    for request in log.posts():
        body = request.post_data_buffer
        assert body is not None, request.url  # every body was seen (a Blob part would hide it)
        content_type = request.headers.get("content-type", "")
        assert "multipart" not in content_type and "image/" not in content_type, (request.url, content_type)
        assert content_type.startswith("application/json"), (request.url, content_type)
        for magic in IMAGE_MAGIC:
            assert magic not in body, (request.url, magic)
        assert len(body) < 64 * 1024, (request.url, len(body))  # mood records: bytes, not frames
    assert Frame.objects.count() == 0


def until(page, expression: str, timeout: float = 60.0):
    """Polls `expression` in the page (page.wait_for_function would eval a string in the page, which
    the app's CSP forbids; page.evaluate goes through the debugger protocol)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate(expression):
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"timed out waiting for {expression}")


def check_in(page, *, samples: int, feeling: str | None, screenshots: bool = False, keyboard: bool = False):
    page.get_by_role("button", name="Start check-in").click()
    try:
        page.wait_for_selector("#rec:not([hidden])", timeout=60_000)  # the camera indicator
    except Exception:
        page.screenshot(path=str(SCREENSHOTS / "patient-app-failed.png"), full_page=True)
        raise AssertionError(page.evaluate(
            "[...document.querySelectorAll('.error')].map(e => e.id + ': ' + e.textContent).join('; ')"))
    assert page.locator("#rec").inner_text().strip() == "Camera on"
    until(page, f"parseInt(document.getElementById('checkin-count').textContent) >= {samples}", timeout=90)
    if screenshots:
        page.screenshot(path=str(SCREENSHOTS / "patient-app-checkin.png"))
    page.get_by_role("button", name="Finish").click()
    page.wait_for_selector("#view-feel:not([hidden])")
    if screenshots:
        page.screenshot(path=str(SCREENSHOTS / "patient-app-feel.png"))
    assert page.evaluate("document.getElementById('preview').srcObject") is None  # camera released
    if feeling and keyboard:  # the heading has the focus; Tab walks the four moods in order
        assert page.evaluate("document.activeElement.id") == "feel-title"
        for _ in range(1 + ["positive", "neutral", "negative", "other"].index(feeling)):
            page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.dataset.mood") == feeling
        page.keyboard.press("Enter")
    elif feeling:
        page.locator(f"button[data-mood={feeling}]").tap()
    else:
        page.get_by_role("button", name="Skip").click()
    page.wait_for_selector("#view-thanks:not([hidden])")
    page.get_by_role("button", name="Done").click()
    page.wait_for_selector("#view-home:not([hidden])")


def test_on_device_enrollment_check_in_self_report_and_offline_queue(live_server, transactional_db, chromium):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    patient, link = enrollment_link(live_server, mode=InferenceMode.ON_DEVICE)
    phone = chromium.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    log = RequestLog(phone)
    page = phone.new_page()
    console = []
    page.on("console", lambda message: console.append(message.text))

    # Enrollment: the code comes in the fragment, and leaves the address bar at once.
    page.goto(link)
    page.wait_for_selector("#view-enroll:not([hidden])")
    assert page.url == f"{live_server.url}/app/"
    assert page.locator("#code-from-link").is_visible()
    page.screenshot(path=str(SCREENSHOTS / "patient-app-enroll.png"), full_page=True)
    page.get_by_role("button", name="I agree, connect this phone").click()
    page.wait_for_selector("#view-home:not([hidden])", timeout=120_000)
    assert InferenceMode.ON_DEVICE.label in page.inner_text("#mode-summary")
    assert patient.devices.count() == 1
    assert not any("enroll=" in r.url for r in log.requests)  # the code never travelled in a URL

    # A check-in, then the self-report.
    check_in(page, samples=2, feeling="positive", screenshots=True)

    # The camera stops at once on Pause, and when the page is hidden (another app, the lock screen).
    live_tracks = ("(document.getElementById('preview').srcObject?.getTracks() || [])"
                   ".filter(t => t.readyState === 'live').length")
    page.get_by_role("button", name="Start check-in").click()
    page.wait_for_selector("#rec:not([hidden])", timeout=60_000)
    assert page.evaluate(live_tracks) == 1
    page.evaluate("window.__track = document.getElementById('preview').srcObject.getTracks()[0]")
    page.get_by_role("button", name="Pause").click()
    assert page.evaluate("window.__track.readyState") == "ended" and page.evaluate(live_tracks) == 0
    assert page.locator("#paused").is_visible() and not page.locator("#rec").is_visible()
    page.get_by_role("button", name="Resume").click()
    page.wait_for_selector("#rec:not([hidden])")
    page.evaluate("window.__track = document.getElementById('preview').srcObject.getTracks()[0]")
    page.evaluate("Object.defineProperty(document, 'hidden', {value: true, configurable: true});"
                  " document.dispatchEvent(new Event('visibilitychange'))")
    assert page.evaluate("window.__track.readyState") == "ended" and page.evaluate(live_tracks) == 0
    assert "hidden" in page.inner_text("#status")
    page.evaluate("Object.defineProperty(document, 'hidden', {value: false, configurable: true})")
    page.get_by_role("button", name="Finish").click()
    page.get_by_role("button", name="Skip").click()
    page.get_by_role("button", name="Done").click()
    until(page, "document.getElementById('queue-status').dataset.waiting === '0'")
    first = MoodRecord.objects.filter(patient=patient).count()
    assert first >= 2
    assert page.locator("#sent-table tbody tr").count() == 1
    page.screenshot(path=str(SCREENSHOTS / "patient-app-home.png"), full_page=True)

    # Offline: a second check-in waits on the phone; online: everything arrives once.
    phone.set_offline(True)
    until(page, "document.getElementById('net').textContent === 'Offline'")
    page.reload()  # the service worker starts the app offline, from its cache
    page.wait_for_selector("#view-home:not([hidden])")
    check_in(page, samples=3, feeling="neutral", keyboard=True)
    until(page, "document.getElementById('queue-status').dataset.waiting !== '0'")
    assert "when the phone is online" in page.inner_text("#queue-status")
    page.screenshot(path=str(SCREENSHOTS / "patient-app-offline.png"), full_page=True)
    time.sleep(2)
    assert MoodRecord.objects.filter(patient=patient).count() == first
    # Back online, the first mood batch reaches the server but its answer is lost: the phone
    # retries with the same batch_id and the server keeps it once.
    lost = []

    def lose_first_answer(route):
        if not lost:
            lost.append(route.fetch())  # the server receives and stores it ...
            route.abort("connectionreset")  # ... the phone sees a dropped connection
        else:
            route.continue_()

    page.route("**/api/v1/mood-batches/", lose_first_answer)
    phone.set_offline(False)
    until(page, "document.getElementById('queue-status').dataset.waiting === '0'", timeout=60)
    assert lost and lost[0].status == 201
    mood_posts = [r for r in log.posts() if r.url.endswith("/api/v1/mood-batches/")]
    batch_ids = [r.post_data_json["batch_id"] for r in mood_posts]
    assert len(batch_ids) == len(set(batch_ids)) + 1  # exactly one retry, with the same id

    batches = FrameBatch.objects.filter(patient=patient)
    assert set(batches.values_list("kind", flat=True)) == {"moods"}
    faces = sum(b.frames_with_face for b in batches)
    records = MoodRecord.objects.filter(patient=patient)
    assert records.count() == faces >= 5
    assert records.values("captured_at").distinct().count() == records.count()  # none twice
    assert set(records.values_list("source", flat=True)) == {"device"}
    shown = page.locator("#sent-table tbody tr td").all_inner_texts()
    assert int(shown[0]) == sum(b.frame_count for b in batches) and int(shown[1]) == faces
    assert int(shown[2]) == 2  # both feelings
    assert_no_image_left_the_phone(log)
    assert not [line for line in console if "Content Security Policy" in line], console

    # The clinician sees them on the patient's page.
    desk = chromium.new_context(viewport={"width": 1280, "height": 900})
    clinic = desk.new_page()
    clinic.goto(f"{live_server.url}/patients/{patient.pk}/")
    clinic.fill("input[name=username]", "dr_app_on_device")
    clinic.fill("input[name=password]", PASSWORD)
    clinic.click("button[type=submit]")
    clinic.wait_for_selector("#chart-timeline .main-svg")
    assert clinic.locator("#chart-timeline .main-svg .point").count() >= records.count()
    clinic.screenshot(path=str(SCREENSHOTS / "patient-app-clinician.png"), full_page=True)


def test_frames_mode_uploads_jpeg_batches_that_the_server_analyses_and_deletes(
        live_server, transactional_db, chromium, eager_tasks):
    patient, link = enrollment_link(live_server, mode=InferenceMode.FRAMES)
    tablet = {"width": 820, "height": 1180}  # a tablet on a stand, in portrait
    phone = chromium.new_context(viewport=tablet, device_scale_factor=1, is_mobile=True, has_touch=True)
    log = RequestLog(phone)
    page = phone.new_page()
    page.goto(link)
    page.get_by_role("button", name="I agree, connect this phone").click()
    page.wait_for_selector("#view-home:not([hidden])", timeout=120_000)
    assert InferenceMode.FRAMES.label in page.inner_text("#mode-summary")
    # Not "mood records are small" when photos are what is sent (headless chromium has no connection type).
    assert "photos are sent on any connection" in page.inner_text("#wifi-note")
    assert "a few hundred bytes" not in page.inner_text("#wifi-note")
    page.get_by_role("button", name="Start check-in").click()
    page.wait_for_selector("#rec:not([hidden])", timeout=60_000)
    until(page, "parseInt(document.getElementById('checkin-count').textContent) >= 2", timeout=90)
    page.screenshot(path=str(SCREENSHOTS / "patient-app-tablet-checkin.png"))
    page.get_by_role("button", name="Finish").click()
    page.get_by_role("button", name="Skip").click()
    page.get_by_role("button", name="Done").click()
    until(page, "document.getElementById('queue-status').dataset.waiting === '0'", timeout=60)

    uploads = [r for r in log.posts() if r.url.endswith("/api/v1/frame-batches/")]
    assert uploads and all("multipart/form-data" in r.headers["content-type"] for r in uploads)
    assert not [r for r in log.posts() if r.url.endswith("/api/v1/mood-batches/")]
    batches = FrameBatch.objects.filter(patient=patient)
    assert set(batches.values_list("kind", "status")) == {("frames", "done")}
    sent = sum(b.frame_count for b in batches)
    assert sent >= 2
    assert Frame.objects.count() == 0  # deleted after analysis
    records = MoodRecord.objects.filter(patient=patient)
    assert records.count() == sum(b.frames_with_face for b in batches) >= 2
    assert set(records.values_list("source", flat=True)) == {"server"}
    assert page.locator("#col-frames").inner_text() == "Photos"
    assert int(page.locator("#sent-table tbody tr td").first.inner_text()) == sent


def test_a_used_enrollment_code_is_explained_in_plain_words(live_server, transactional_db, chromium):
    patient, link = enrollment_link(live_server, mode=InferenceMode.ON_DEVICE)
    first = chromium.new_context(viewport=PHONE).new_page()
    first.goto(link)
    first.get_by_role("button", name="I agree, connect this phone").click()
    first.wait_for_selector("#view-home:not([hidden])", timeout=120_000)

    second = chromium.new_context(viewport=PHONE).new_page()
    second.goto(link)
    second.get_by_role("button", name="I agree, connect this phone").click()
    error = second.locator("#enroll-error")
    error.wait_for()
    assert error.inner_text().startswith("This code was already used.")
    assert second.locator("#code").is_visible()  # the patient can type a new code
    assert patient.devices.count() == 1


def test_wifi_only_holds_uploads_on_mobile_data_until_wifi(live_server, transactional_db, chromium):
    patient, link = enrollment_link(live_server, mode=InferenceMode.ON_DEVICE)
    phone = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    # Chrome on Android tells the connection type; here a phone on mobile data is emulated.
    phone.add_init_script("""
        const connection = new EventTarget();
        connection.type = "cellular";
        Object.defineProperty(Navigator.prototype, "connection", {get: () => connection, configurable: true});
        window.__connection = connection;
    """)
    page = phone.new_page()
    page.goto(link)
    page.get_by_role("button", name="I agree, connect this phone").click()
    page.wait_for_selector("#view-home:not([hidden])", timeout=120_000)
    assert page.inner_text("#wifi-note") == "Now connected by mobile data."
    page.get_by_label("Send only on Wi-Fi").check()
    check_in(page, samples=2, feeling=None)
    until(page, "document.getElementById('queue-status').textContent.includes('waiting for Wi-Fi')")
    page.wait_for_timeout(1500)
    assert MoodRecord.objects.filter(patient=patient).count() == 0
    page.evaluate("window.__connection.type = 'wifi'; window.__connection.dispatchEvent(new Event('change'))")
    until(page, "document.getElementById('queue-status').dataset.waiting === '0'", timeout=60)
    batches = FrameBatch.objects.filter(patient=patient)
    assert MoodRecord.objects.filter(patient=patient).count() == sum(b.frames_with_face for b in batches) >= 2


@pytest.fixture
def hashed_static_server(tmp_path, transactional_db):
    """The server as production serves it: collectstatic with hashed, compressed names
    (CompressedManifestStaticFilesStorage) into a fresh STATIC_ROOT, served by WhiteNoise (not by the
    test server's own static handler, which finds only plain names)."""
    storages = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}
    with override_settings(STATIC_ROOT=tmp_path / "static", STORAGES=storages, DEBUG=False):
        call_command("collectstatic", interactive=False, verbosity=0)
        hits = []  # every path the server was asked for

        def counted(app):
            def wsgi(environ, start_response):
                hits.append(environ["PATH_INFO"])
                return app(environ, start_response)
            return wsgi

        thread = LiveServerThread("localhost", static_handler=counted)
        thread.daemon = True
        thread.start()
        thread.is_ready.wait()
        if thread.error:
            raise thread.error
        try:
            yield f"http://localhost:{thread.port}", hits
        finally:
            thread.terminate()


def test_with_hashed_static_files_the_app_starts_offline_and_its_queue_arrives_once(hashed_static_server, chromium):
    url, hits = hashed_static_server
    clinician = UserFactory(username="dr_app_offline")
    patient = PatientFactory(reference="P-APP-OFFLINE", clinicians=[clinician], inference_mode=InferenceMode.ON_DEVICE)
    _, code = enrollment_code_issue(patient=patient, actor=clinician)
    phone = chromium.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    log = RequestLog(phone)
    page = phone.new_page()
    page.goto(f"{url}/app/#enroll={code}")
    # The page runs the hashed names (what a stale plain-name cache would miss).
    assert re.search(r"/pipeline\.[0-9a-f]{12}\.js$", page.evaluate("document.body.dataset.pipeline"))
    page.get_by_role("button", name="I agree, connect this phone").click()
    page.wait_for_selector("#view-home:not([hidden])", timeout=120_000)
    until(page, "document.body.dataset.offlineReady === 'yes'", timeout=60)  # kept by the service worker

    # No check-in yet: the first offline start must not depend on one. A day later the browser's
    # HTTP cache may hold nothing (WhiteNoise gives plain names a minute): only the worker's caches count.
    phone.new_cdp_session(page).send("Network.clearBrowserCache")
    phone.set_offline(True)
    page.reload()
    page.wait_for_selector("#view-home:not([hidden])")
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    check_in(page, samples=3, feeling="negative")
    until(page, "document.getElementById('queue-status').dataset.waiting !== '0'")
    assert MoodRecord.objects.filter(patient=patient).count() == 0

    phone.set_offline(False)
    until(page, "document.getElementById('queue-status').dataset.waiting === '0'", timeout=60)
    # Tries made offline failed in the browser; each batch reached the server once.
    delivered = [r for r in log.posts() if r.url.endswith("/api/v1/mood-batches/") and r.failure is None]
    batch_ids = [r.post_data_json["batch_id"] for r in delivered]
    assert batch_ids and len(batch_ids) == len(set(batch_ids))
    # Numbers go on the wire with six decimals (not a double's 17 digits), still summing to 1.
    faces = [f["face"] for r in delivered for f in r.post_data_json["frames"] if f["face"]]
    assert faces and all(round(v, 6) == v for f in faces for v in [*f["probabilities"].values(), f["detection_score"]])
    assert all(abs(sum(f["probabilities"].values()) - 1) < 1e-5 for f in faces)
    batches = FrameBatch.objects.filter(patient=patient)
    assert sorted(str(b) for b in batches.values_list("batch_id", flat=True)) == sorted(batch_ids)
    assert sum(b.frame_count for b in batches) >= 3
    records = MoodRecord.objects.filter(patient=patient)
    assert records.count() == sum(b.frames_with_face for b in batches) >= 3
    assert records.values("captured_at").distinct().count() == records.count()
    assert patient.self_reports.count() == 1
    assert_no_image_left_the_phone(log)

    # A later start, online, downloads no runtime or model file again (megabytes on mobile data):
    # the worker keeps them, without refreshing them in the background.
    phone.new_cdp_session(page).send("Network.clearBrowserCache")
    seen = len(hits)
    page.reload()
    page.wait_for_selector("#view-home:not([hidden])")
    check_in(page, samples=1, feeling=None)
    until(page, "document.getElementById('queue-status').dataset.waiting === '0'")
    assert any(path.endswith("/api/v1/mood-batches/") for path in hits[seen:])  # the server was reached
    assert not [path for path in hits[seen:] if "/vendor/litertjs/" in path or "/api/v1/model/files/" in path]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "patient-app-back-online-390.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 900})  # a laptop, or a tablet on a stand
    page.screenshot(path=str(SCREENSHOTS / "patient-app-back-online-1366.png"), full_page=True)
