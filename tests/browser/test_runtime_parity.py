"""Parity is a test (issue 28): on real frames, the browser's pipeline (LiteRT.js in headless
Chromium, pipeline.js) finds the server's faces within 2 px, gives its probabilities within 1e-3 and
the same mood on every frame, and counts the same bystanders. The page gets everything from the live
server: the manifest with a device token, the model files by hash, LiteRT.js from static files,
under the patient app's Content-Security-Policy."""
import pytest
from django.templatetags.static import static

from benchmarks.browser_runtime import FRAME_PATH, browser_result, open_runtime_page, python_result, real_frames
from clients.patient_app import runtime
from tests.backend.factories import DeviceFactory, PatientFactory

BOX_PX = 2
PROBABILITY = 1e-3


@pytest.fixture(scope="module")
def estimator():
    from inference import MoodEstimator

    return MoodEstimator.load()


def test_the_browser_pipeline_matches_the_server_on_real_frames(live_server, page, sample_images_dir, estimator):
    device = DeviceFactory(patient=PatientFactory(reference="P-PARITY", inference_mode="on_device"))
    frames = real_frames(sample_images_dir)
    manifest = open_runtime_page(page, live_server.url, frames, device.token)
    assert manifest["version"] == estimator.version and manifest["mode"] == "on_device"
    compared = with_face = with_bystanders = 0
    worst_box = worst_probability = 0.0
    for frame in frames:
        got = browser_result(page, live_server.url, frame)["result"]
        want = python_result(estimator, frame)
        h, w = frame.bgr.shape[:2]
        assert got["frame_size"] == [w, h]
        assert got["bystanders"] == want["bystanders"], frame.name
        assert (got["face"] is None) == (want["face"] is None), frame.name
        compared += 1
        with_bystanders += want["bystanders"] > 0
        if want["face"] is None:
            continue
        with_face += 1
        box_error = max(abs(a - b) for a, b in zip(got["face"]["box"], want["face"]["box"]))
        p_got, p_want = got["face"]["probabilities"], want["face"]["probabilities"]
        assert sorted(p_got) == sorted(p_want)
        probability_error = max(abs(p_got[m] - p_want[m]) for m in p_want)
        assert box_error <= BOX_PX, (frame.name, got["face"]["box"], want["face"]["box"])
        assert probability_error <= PROBABILITY, (frame.name, p_got, p_want)
        assert max(p_got, key=p_got.get) == want["face"]["mood"], frame.name
        assert got["face"]["detection_score"] == pytest.approx(want["face"]["detection_score"], abs=1e-4)
        worst_box, worst_probability = max(worst_box, box_error), max(worst_probability, probability_error)
    assert compared == len(frames) == 20 and with_face >= 16
    assert with_bystanders >= 2  # two_people.jpg's frames
    print(f"parity on {compared} frames ({with_face} with a face, {with_bystanders} with bystanders): "
          f"largest box difference {worst_box} px, "
          f"largest probability difference {worst_probability:.2e}")


HOSTILE_JS = """async ([pipelineUrl, frameUrl, w, h]) => {
  const { createPipeline } = await import(pipelineUrl);
  const refused = async (change) => {
    const manifest = structuredClone(window.manifest);
    change(manifest);
    try { await createPipeline(manifest); return null; } catch (error) { return String(error); }
  };
  const out = {
    forgedHash: await refused((m) => { m.files.classifier.sha256 = "0".repeat(64); }),
    wrongSize: await refused((m) => { m.files.detector.bytes += 1; }),
    missingFile: await refused((m) => {
      m.files.detector.url = m.files.detector.url.replace(/[0-9a-f]{64}/, "f".repeat(64));
    }),
  };
  try { await window.pipeline.analyze(new OffscreenCanvas(8, 8)); } catch (error) { out.tooSmall = String(error); }
  const pixels = new Uint8ClampedArray(await (await fetch(frameUrl)).arrayBuffer());
  const canvas = new OffscreenCanvas(w, h);
  canvas.getContext("2d").putImageData(new ImageData(pixels, w, h), 0, 0);
  out.fromCanvas = await window.pipeline.analyze(canvas);
  out.fromBitmap = await window.pipeline.analyze(await createImageBitmap(canvas));
  const both = await Promise.all([window.pipeline.analyze(canvas), window.pipeline.analyze(canvas)]);
  out.concurrentSame = JSON.stringify(both[0].face) === JSON.stringify(both[1].face);
  window.pipeline.close();
  try { await window.pipeline.analyze(canvas); } catch (error) { out.afterClose = String(error); }
  return out;
}"""


def test_the_pipeline_refuses_files_that_do_not_match_the_manifest_and_frames_too_small(live_server, page,
                                                                                          sample_images_dir):
    device = DeviceFactory(patient=PatientFactory(reference="P-HOSTILE", inference_mode="on_device"))
    frame = next(f for f in real_frames(sample_images_dir) if f.name == "obama-480p-640")
    open_runtime_page(page, live_server.url, [frame], device.token)
    h, w = frame.bgr.shape[:2]
    out = page.evaluate(HOSTILE_JS, [static(runtime.PIPELINE), f"{live_server.url}{FRAME_PATH}{frame.name}", w, h])
    assert "SHA-256" in out["forgedHash"]
    assert "bytes" in out["wrongSize"]
    assert "HTTP 404" in out["missingFile"]
    assert "8x8" in out["tooSmall"]
    assert out["fromCanvas"]["face"] is not None
    assert out["fromBitmap"]["face"] == out["fromCanvas"]["face"]  # an ImageBitmap gives the same pixels
    assert out["concurrentSame"]
    assert "closed" in out["afterClose"]
