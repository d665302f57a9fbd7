// BlazeFace's pre- and post-processing, ported from inference/detection.py (FaceDetector): the
// input shape for a frame, the letterbox, SSD anchors, box decoding, the score threshold, the
// roll (upright) filter and MediaPipe's weighted non-maximum suppression. Every number comes from
// the manifest's "detector" object, which the server reads from inference/detection.py.
// Arithmetic follows numpy's float32 where the server computes in float32 (Math.fround).

import { pyRound, resizeArea, resizeLinear } from "./imaging.js";

const f32 = Math.fround;

// FaceDetector.input_shape: the model input (height, width) for a frame.
export function inputShape(cfg, imageH, imageW) {
  const size = cfg.input_size;
  const multiple = cfg.side_multiple;
  if (multiple === null || multiple === undefined) return [size, size];
  const scale = size / Math.max(imageH, imageW);
  const side = (pixels) => Math.min(size, Math.ceil(Math.max(1, pyRound(pixels * scale)) / multiple) * multiple);
  return [side(imageH), side(imageW)];
}

// ssd_anchors: anchor centres (x, y) in input pixels, laid out as MediaPipe's SsdAnchorsCalculator.
export function ssdAnchors(cfg, height, width) {
  const strides = cfg.strides;
  const centres = [];
  let i = 0;
  while (i < strides.length) {
    let j = i;
    while (j < strides.length && strides[j] === strides[i]) j++;
    const stride = strides[i];
    const perCell = (j - i) * (cfg.interpolated_scale_aspect_ratio === 1 ? 2 : 1);
    const rows = Math.ceil(height / stride), cols = Math.ceil(width / stride);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        for (let k = 0; k < perCell; k++) centres.push(f32((c + 0.5) * stride), f32((r + 0.5) * stride));
      }
    }
    i = j;
  }
  return Float32Array.from(centres);
}

// FaceDetector._letterbox: the frame fitted into the input (centred, aspect kept), scaled to
// -1..1, borders -1. Returns the input tensor's data and how to map boxes back. `pixels` has `cn`
// channels, R, G, B first: the canvas's RGBA is resized as it is (each channel on its own, so the
// same numbers) and its alpha dropped at the small size, instead of copying the whole frame to RGB.
export function letterbox(pixels, w, h, inH, inW, cn = 3) {
  const scale = Math.min(inH / h, inW / w);
  const nw = Math.min(inW, Math.max(1, pyRound(w * scale)));
  const nh = Math.min(inH, Math.max(1, pyRound(h * scale)));
  const px = Math.floor((inW - nw) / 2), py = Math.floor((inH - nh) / 2);
  let small;
  if (scale < 0.5) {
    // bilinear to twice the size, then a 2x area average (the server's anti-aliasing)
    const twice = resizeLinear(pixels, w, h, 2 * nw, 2 * nh, cn);
    small = resizeArea(twice, 2 * nw, 2 * nh, nw, nh, cn);
  } else if (nw === w && nh === h) {
    small = pixels;
  } else if (scale < 1) {
    small = resizeArea(pixels, w, h, nw, nh, cn);
  } else {
    small = resizeLinear(pixels, w, h, nw, nh, cn);
  }
  const data = new Float32Array(inH * inW * 3).fill(-1);
  const k = 1 / 127.5;
  for (let y = 0; y < nh; y++) {
    let o = ((py + y) * inW + px) * 3;
    let s = y * nw * cn;
    for (let x = 0; x < nw; x++, s += cn) {
      data[o++] = f32(f32(small[s] * k) - 1);
      data[o++] = f32(f32(small[s + 1] * k) - 1);
      data[o++] = f32(f32(small[s + 2] * k) - 1);
    }
  }
  return { data, scale, px, py };
}

function iou(a, b) {
  const ix0 = Math.max(a[0], b[0]), iy0 = Math.max(a[1], b[1]);
  const ix1 = Math.min(a[2], b[2]), iy1 = Math.min(a[3], b[3]);
  const inter = f32(f32(Math.max(f32(ix1 - ix0), 0)) * f32(Math.max(f32(iy1 - iy0), 0)));
  const areaA = f32(f32(a[2] - a[0]) * f32(a[3] - a[1]));
  const areaB = f32(f32(b[2] - b[0]) * f32(b[3] - b[1]));
  const union = f32(f32(areaA + areaB) - inter);
  return union > 0 ? f32(inter / Math.max(union, f32(1e-12))) : 0;
}

// weighted_nms: clusters around the best remaining box, each replaced by its score-weighted mean.
export function weightedNms(boxes, scores, iouLimit) {
  const order = scores.map((s, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  let left = order.map((i) => ({ box: boxes[i], score: scores[i] }));
  const kept = [];
  while (left.length) {
    const best = left[0].box;
    const inCluster = left.map((c, i) => i === 0 || iou(best, c.box) > f32(iouLimit));
    const sum = [0, 0, 0, 0];
    let weight = 0;
    left.forEach((c, i) => {
      if (!inCluster[i]) return;
      for (let k = 0; k < 4; k++) sum[k] += c.box[k] * c.score;
      weight += c.score;
    });
    kept.push({ box: sum.map((v) => f32(v / weight)), score: left[0].score });
    left = left.filter((c, i) => !inCluster[i]);
  }
  return kept;
}

// FaceDetector.__call__ after the model: raw outputs -> faces in frame pixels, best first.
export function decodeDetections(cfg, rawBoxes, logits, anchors, geometry) {
  const minLogit = f32(Math.log(cfg.min_score / (1 - cfg.min_score)));
  const limit = cfg.raw_score_limit;
  const tanRoll = Math.tan(cfg.max_roll_degrees * (Math.PI / 180));
  const boxes = [], scores = [];
  for (let i = 0; i < logits.length; i++) {
    if (!(logits[i] > minLogit)) continue;
    const r = i * 16;
    const clipped = Math.min(Math.max(logits[i], -limit), limit);
    const score = f32(1 / (1 + Math.exp(-clipped)));
    const cx = f32(rawBoxes[r] + anchors[2 * i]), cy = f32(rawBoxes[r + 1] + anchors[2 * i + 1]);
    const hw = f32(rawBoxes[r + 2] / 2), hh = f32(rawBoxes[r + 3] / 2);
    const box = [f32(cx - hw), f32(cy - hh), f32(cx + hw), f32(cy + hh)];
    const eyeDx = f32(rawBoxes[r + 6] - rawBoxes[r + 4]);
    const eyeDy = f32(rawBoxes[r + 7] - rawBoxes[r + 5]);
    const upright = Math.abs(eyeDy) <= tanRoll * Math.abs(eyeDx);
    if (box[2] > box[0] && box[3] > box[1] && upright) {
      boxes.push(box);
      scores.push(score);
    }
  }
  const scale = f32(geometry.scale), { px, py } = geometry;
  return weightedNms(boxes, scores, cfg.nms_iou).map(({ box, score }) => ({
    x0: f32(f32(box[0] - px) / scale), y0: f32(f32(box[1] - py) / scale),
    x1: f32(f32(box[2] - px) / scale), y1: f32(f32(box[3] - py) / scale),
    score,
  }));
}

// The detector file with its input tensor's height and width, and its outputs' anchor count, set:
// LiteRT.js cannot resize a tensor, so each input shape gets its own copy of the model (the server
// resizes its interpreter instead; the network is fully convolutional, its outputs follow the input).
export function withInputShape(modelBytes, height, width, anchorCount) {
  const bytes = new Uint8Array(modelBytes); // a copy: the verified original stays as downloaded
  const view = new DataView(bytes.buffer);
  const u32 = (p) => view.getUint32(p, true);
  const field = (table, n) => {
    const vtable = table - view.getInt32(table, true);
    const entry = 4 + 2 * n;
    if (entry >= view.getUint16(vtable, true)) return 0;
    const offset = view.getUint16(vtable + entry, true);
    return offset ? table + offset : 0;
  };
  const vector = (table, n) => {
    const at = field(table, n);
    if (!at) return null;
    const start = at + u32(at);
    return { length: u32(start), first: start + 4 };
  };
  const tableAt = (vec, i) => {
    const at = vec.first + 4 * i;
    return at + u32(at);
  };
  const model = u32(0);
  const subgraph = tableAt(vector(model, 2), 0); // Model.subgraphs[0]
  const tensors = vector(subgraph, 0); // SubGraph.tensors
  const setDims = (listField, rank, values) => { // values: {dimension: size}
    const list = vector(subgraph, listField); // SubGraph.inputs (1) / outputs (2)
    for (let i = 0; i < list.length; i++) {
      const tensor = tableAt(tensors, view.getInt32(list.first + 4 * i, true));
      for (const shapeField of [0, 7]) { // Tensor.shape, Tensor.shape_signature
        const dims = vector(tensor, shapeField);
        if (!dims) continue;
        if (dims.length !== rank) throw new Error(`detector tensor has ${dims.length} dimensions, not ${rank}`);
        for (const [d, size] of Object.entries(values)) view.setInt32(dims.first + 4 * Number(d), size, true);
      }
    }
  };
  setDims(1, 4, { 1: height, 2: width });
  setDims(2, 3, { 1: anchorCount });
  return bytes;
}
