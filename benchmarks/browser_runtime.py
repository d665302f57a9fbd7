"""The in-browser pipeline (static/patient_app/runtime/pipeline.js) in headless Chromium, beside the
server's (inference.MoodEstimator) on the same pixels: shared by tests/browser/test_runtime_parity.py and
benchmarks/browser_inference.py.

The browser gets raw RGBA pixels (decoded here once, by OpenCV, as the server decodes) through a
test page on the live server's origin; the page carries the import map and the Content-Security-
Policy of clients/patient_app/runtime.py, and everything else (manifest, model files, LiteRT.js's
WASM) comes from the real server.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from django.templatetags.static import static
from PIL import Image

from clients.patient_app import runtime

PAGE_PATH = "/runtime-test/"
FRAME_PATH = "/runtime-test/frames/"
PHOTOS = ("obama1.jpg", "obama-480p.jpg", "obama-720p.jpg", "two_people.jpg")

# Imports the pipeline, fetches the manifest with the device token and builds the pipeline.
SETUP_JS = """async ([pipelineUrl, token]) => {
  const { createPipeline } = await import(pipelineUrl);
  const answer = await fetch("/api/v1/model/", { headers: { Authorization: `Device ${token}` } });
  if (!answer.ok) throw new Error(`manifest: HTTP ${answer.status}`);
  window.manifest = await answer.json();
  window.pipeline = await createPipeline(window.manifest);
  return window.manifest;
}"""

# Loads one frame's RGBA pixels into a canvas (the app hands pipeline.analyze a canvas or a video)
# and analyses it `repeat` times; returns the last result and each run's ms.
ANALYZE_JS = """async ([url, w, h, repeat]) => {
  const pixels = new Uint8ClampedArray(await (await fetch(url)).arrayBuffer());
  const canvas = new OffscreenCanvas(w, h);
  canvas.getContext("2d").putImageData(new ImageData(pixels, w, h), 0, 0);
  let result;
  const runs = [];
  for (let i = 0; i < repeat; i++) {
    result = await window.pipeline.analyze(canvas);
    runs.push(result.ms);
  }
  return { result, runs };
}"""


@dataclass(frozen=True)
class Frame:
    name: str
    bgr: np.ndarray

    @property
    def rgba(self) -> bytes:
        return cv2.cvtColor(self.bgr, cv2.COLOR_BGR2RGBA).tobytes()


def real_frames(sample_images_dir: Path) -> list[Frame]:
    """Real photos as decoded, mirrored, at a phone's 640 px, and cut square and portrait (every
    input shape family the detector uses)."""
    frames = []
    for name in PHOTOS:
        bgr = cv2.imread(str(sample_images_dir / name))
        h, w = bgr.shape[:2]
        stem = name.rsplit(".", 1)[0]
        small = cv2.cvtColor(np.asarray(Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).resize(
            (640, round(h * 640 / w)))), cv2.COLOR_RGB2BGR)
        side = min(h, w)
        frames += [
            Frame(stem, bgr),
            Frame(f"{stem}-mirrored", np.ascontiguousarray(bgr[:, ::-1])),
            Frame(f"{stem}-640", small),
            Frame(f"{stem}-square", np.ascontiguousarray(bgr[:, (w - side) // 2:(w - side) // 2 + side])),
            Frame(f"{stem}-portrait", np.ascontiguousarray(bgr[:, (w - side * 3 // 4) // 2:][:, :side * 3 // 4])),
        ]
    return frames


def python_result(estimator, frame: Frame) -> dict:
    """The server's answer for a frame, in the shape of pipeline.analyze's (largest face = patient)."""
    faces = estimator.estimate(frame.bgr)
    if not faces:
        return {"face": None, "bystanders": 0}
    largest = max(faces, key=lambda f: f.box[2] * f.box[3])  # first of equals, as the browser
    return {"face": {"box": list(largest.box), "detection_score": largest.detection_score,
                     "probabilities": largest.probabilities, "mood": largest.mood},
            "bystanders": len(faces) - 1}


def open_runtime_page(page, base_url: str, frames: list[Frame], token: str) -> dict:
    """Serve the test page and the frames' pixels on the live server's origin, build the pipeline
    there; returns the manifest the page fetched."""
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>runtime</title>
<script type="importmap">{runtime.import_map()}</script></head><body></body></html>"""
    csp = runtime.content_security_policy()
    page.route(f"{base_url}{PAGE_PATH}", lambda route: route.fulfill(
        status=200, body=html, headers={"Content-Type": "text/html", "Content-Security-Policy": csp}))
    by_name = {f.name: f for f in frames}
    page.route(f"{base_url}{FRAME_PATH}*", lambda route: route.fulfill(
        status=200, body=by_name[route.request.url.rsplit("/", 1)[1]].rgba,
        headers={"Content-Type": "application/octet-stream"}))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base_url}{PAGE_PATH}")
    try:
        return page.evaluate(SETUP_JS, [static(runtime.PIPELINE), token])
    except Exception as exc:
        raise AssertionError(f"pipeline setup failed: {exc}; page errors: {errors}") from None


def browser_result(page, base_url: str, frame: Frame, repeat: int = 1) -> dict:
    h, w = frame.bgr.shape[:2]
    return page.evaluate(ANALYZE_JS, [f"{base_url}{FRAME_PATH}{frame.name}", w, h, repeat])


def python_ms(estimator, frame: Frame, repeat: int) -> dict:
    """The server pipeline's ms for the same work: detect (all faces), classify (the largest face)."""
    detect, classify = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        detections = estimator.detect(frame.bgr)
        t1 = time.perf_counter()
        if detections:
            estimator.classify(estimator.crops(frame.bgr, detections[:1]))
        t2 = time.perf_counter()
        detect.append((t1 - t0) * 1000)
        classify.append((t2 - t1) * 1000)
    return {"detect": detect, "classify": classify}
