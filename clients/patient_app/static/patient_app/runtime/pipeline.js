// The patient app's on-device pipeline: BlazeFace and the mood model in the browser, with
// LiteRT.js (WASM, served from this site's static files), reproducing the server's
// inference.detection + inference.MoodEstimator on the same pixels.
//
//   import { createPipeline } from ".../patient_app/runtime/pipeline.js";
//   const pipeline = await createPipeline(manifest);   // manifest: GET /api/v1/model/
//   const result = await pipeline.analyze(videoOrCanvasOrBitmap);
//   // {frame_size: [w, h], face: {box: [x, y, w, h], detection_score, probabilities} | null,
//   //  bystanders: n, ms: {detect, classify}}
//   pipeline.close();
//
// The largest face is the patient's; the other faces are only counted (bystanders), never
// classified. The page that imports this module needs the import map of
// clients/patient_app/runtime.py (the bare "@litertjs/..." names) and a Content-Security-Policy
// that allows 'wasm-unsafe-eval' (runtime.content_security_policy()).

import { loadAndCompile, loadLiteRt, Tensor } from "@litertjs/core";

import { decodeDetections, inputShape, letterbox, ssdAnchors, withInputShape } from "./blazeface.js";
import { greyRegion, pyRound, resizeArea, resizeLinear } from "./imaging.js";

// @litertjs/core/wasm/ beside its dist/: .../vendor/litertjs/core/index.js -> .../vendor/litertjs/wasm/
const WASM_DIR = new URL("../wasm/", import.meta.resolve("@litertjs/core")).href;

let runtime = null;

function loadRuntime() {
  if (!runtime) {
    runtime = loadLiteRt(WASM_DIR).catch((error) => {
      runtime = null;
      throw error;
    });
  }
  return runtime;
}

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

// Download a model file and check it against the manifest (size and SHA-256) before use.
async function fetchVerified(file, what) {
  const response = await fetch(file.url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`${what} model: HTTP ${response.status} from ${file.url}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length !== file.bytes) {
    throw new Error(`${what} model: ${bytes.length} bytes, the manifest says ${file.bytes}`);
  }
  const digest = hex(await crypto.subtle.digest("SHA-256", bytes));
  if (digest !== file.sha256) throw new Error(`${what} model: SHA-256 ${digest}, the manifest says ${file.sha256}`);
  return bytes;
}

async function runModel(model, data, shape) {
  const input = new Tensor(data, shape);
  let outputs = [];
  try {
    outputs = await model.run([input]);
    return outputs.map((t) => t.toTypedArray().slice());
  } finally {
    input.delete();
    for (const t of outputs) t.delete();
  }
}

function frameSize(source) {
  if (typeof HTMLVideoElement !== "undefined" && source instanceof HTMLVideoElement) {
    return [source.videoWidth, source.videoHeight];
  }
  return [source.width, source.height];
}

// estimator.crop_box + detection.square_box: the FER-style square crop for a detection.
function cropBox(det, w, h, cfg) {
  const shift = cfg.crop_shift_up * Math.max(det.x1 - det.x0, det.y1 - det.y0);
  const y0 = det.y0 - shift, y1 = det.y1 - shift;
  const cx = (det.x0 + det.x1) / 2, cy = (y0 + y1) / 2;
  let side = Math.max(det.x1 - det.x0, y1 - y0) * (1 + 2 * cfg.crop_margin);
  side = Math.max(pyRound(Math.min(side, w, h)), 1);
  let x = pyRound(cx - side / 2), y = pyRound(cy - side / 2);
  x = Math.min(Math.max(x, 0), w - side);
  y = Math.min(Math.max(y, 0), h - side);
  return [x, y, side];
}

// estimator._face_box: the detection in frame pixels as (x, y, w, h), clipped to the frame.
function frameBox(det, w, h) {
  const clip = (v, hi) => pyRound(Math.min(Math.max(v, 0), hi));
  const x0 = clip(det.x0, w), y0 = clip(det.y0, h), x1 = clip(det.x1, w), y1 = clip(det.y1, h);
  return [x0, y0, x1 - x0, y1 - y0];
}

export async function createPipeline(manifest) {
  const det = manifest.detector;
  const cls = manifest.classifier;
  const moods = manifest.moods;
  const [, detectorBytes, classifierBytes] = await Promise.all([
    loadRuntime(),
    fetchVerified(manifest.files.detector, "detector"),
    fetchVerified(manifest.files.classifier, "classifier"),
  ]);
  const classifier = await loadAndCompile(classifierBytes.slice(), { accelerator: "wasm" });
  const detectors = new Map(); // "HxW" -> {model, anchors, boxesAt, scoresAt}
  const canvas = new OffscreenCanvas(1, 1);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  let queue = Promise.resolve();
  let closed = false;

  async function detector(inH, inW) {
    const key = `${inH}x${inW}`;
    let entry = detectors.get(key);
    if (!entry) {
      const anchors = ssdAnchors(det, inH, inW);
      const model = await loadAndCompile(withInputShape(detectorBytes, inH, inW, anchors.length / 2),
                                         { accelerator: "wasm" });
      const outputs = model.getOutputDetails();
      const last = (d) => d.shape[d.shape.length - 1];
      entry = {
        model, anchors,
        boxesAt: outputs.findIndex((d) => last(d) === 16),
        scoresAt: outputs.findIndex((d) => last(d) === 1),
      };
      detectors.set(key, entry);
    }
    return entry;
  }

  async function classify(rgba, w, h, face) {
    const size = cls.input_size;
    const [x, y, side] = cropBox(face, w, h, cls);
    let patch = greyRegion(rgba, w, x, y, side);
    if (side !== size) {
      patch = side > size ? resizeArea(patch, side, side, size, size, 1) : resizeLinear(patch, side, side, size, size, 1);
    }
    const image = Float32Array.from(patch); // 0..255, as the server feeds the model
    const mirror = new Float32Array(size * size);
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) mirror[r * size + c] = image[r * size + size - 1 - c];
    }
    const shape = [1, size, size, 1];
    const [[plain], [mirrored]] = [await runModel(classifier, image, shape), await runModel(classifier, mirror, shape)];
    const probabilities = {};
    moods.forEach((mood, i) => { probabilities[mood] = (plain[i] + mirrored[i]) / 2; });
    return probabilities;
  }

  async function analyzePixels(rgba, w, h) {
    const minSide = manifest.frame.min_side;
    if (!(w >= minSide && h >= minSide)) throw new Error(`frame is ${w}x${h} pixels; at least ${minSide}x${minSide} is needed`);
    const t0 = performance.now();
    const [inH, inW] = inputShape(det, h, w);
    const entry = await detector(inH, inW);
    const geometry = letterbox(rgba, w, h, inH, inW, 4);
    const outputs = await runModel(entry.model, geometry.data, [1, inH, inW, 3]);
    const faces = decodeDetections(det, outputs[entry.boxesAt], outputs[entry.scoresAt], entry.anchors, geometry);
    const t1 = performance.now();
    let face = null;
    if (faces.length) {
      const boxes = faces.map((f) => frameBox(f, w, h));
      let largest = 0;
      boxes.forEach((b, i) => { if (b[2] * b[3] > boxes[largest][2] * boxes[largest][3]) largest = i; });
      face = {
        box: boxes[largest],
        detection_score: faces[largest].score,
        probabilities: await classify(rgba, w, h, faces[largest]),
      };
    }
    const t2 = performance.now();
    return {
      frame_size: [w, h], face, bystanders: Math.max(faces.length - 1, 0),
      ms: { detect: t1 - t0, classify: t2 - t1 },
    };
  }

  function analyze(source) {
    if (closed) return Promise.reject(new Error("the pipeline is closed"));
    const [w, h] = frameSize(source);
    // read the pixels now (the video moves on), analyse one frame at a time
    let pixels;
    if (w > 0 && h > 0) {
      if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
      context.drawImage(source, 0, 0);
      pixels = context.getImageData(0, 0, w, h).data;
    }
    const run = queue.then(() => analyzePixels(pixels, w, h));
    queue = run.catch(() => {});
    return run;
  }

  function close() {
    closed = true;
    queue.then(() => {
      classifier.delete();
      for (const entry of detectors.values()) entry.model.delete();
      detectors.clear();
    });
  }

  return { analyze, analyzePixels, close, version: manifest.version };
}
