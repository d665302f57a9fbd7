// Pixel work of the server's pipeline, ported to plain JavaScript so that the browser feeds the
// models the same numbers as inference/detection.py and inference/estimator.py do.
//
// The server resizes and converts with OpenCV (cv2.resize, cv2.cvtColor on uint8 images); these
// functions follow OpenCV's own arithmetic for those cases (fixed-point bilinear, area averaging in
// float32, the integer 2x2 fast path, the 15-bit BT.601 grey weights) rather than a browser
// canvas, whose smoothing is unspecified. Pure functions: no DOM, so Node can run them as well.

// Python's round(): halves go to the even neighbour (also OpenCV's cvRound / saturate_cast).
export function pyRound(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const f32 = Math.fround;
const clampByte = (v) => (v < 0 ? 0 : v > 255 ? 255 : v);

// OpenCV's resize with INTER_LINEAR on uint8: coefficients in 11-bit fixed point (cv::resize,
// INTER_RESIZE_COEF_BITS), the vertical pass rounded as VResizeLinear<uchar> does.
const COEF_SCALE = 2048;

function linearTaps(ssize, dsize, clampEdges) {
  const scale = 1 / (dsize / ssize);
  const index = new Int32Array(dsize);
  const a0 = new Int32Array(dsize);
  const a1 = new Int32Array(dsize);
  for (let d = 0; d < dsize; d++) {
    let f = f32((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = f32(f - s);
    if (clampEdges) {
      if (s < 0) { f = 0; s = 0; }
      if (s >= ssize - 1) { f = 0; s = ssize - 1; }
    }
    index[d] = s;
    a0[d] = pyRound(f32(1 - f) * COEF_SCALE);
    a1[d] = pyRound(f * COEF_SCALE);
  }
  return { index, a0, a1 };
}

export function resizeLinear(src, sw, sh, dw, dh, cn) {
  if (sw === 2 * dw && sh === 2 * dh) {
    return resizeArea(src, sw, sh, dw, dh, cn); // OpenCV does the same (it is the same average)
  }
  const xs = linearTaps(sw, dw, true);
  const ys = linearTaps(sh, dh, false);
  const rowLen = dw * cn;
  const rows = [new Int32Array(rowLen), new Int32Array(rowLen)];
  const rowOf = [-1, -1];
  const horizontal = (sy, out) => {
    const base = sy * sw * cn;
    for (let dx = 0; dx < dw; dx++) {
      const s = base + xs.index[dx] * cn;
      const w0 = xs.a0[dx], w1 = xs.a1[dx];
      for (let c = 0; c < cn; c++) {
        out[dx * cn + c] = src[s + c] * w0 + (w1 ? src[s + cn + c] * w1 : 0);
      }
    }
  };
  const dst = new Uint8Array(dw * dh * cn);
  for (let dy = 0; dy < dh; dy++) {
    const sy0 = ys.index[dy];
    const want = [Math.min(Math.max(sy0, 0), sh - 1), Math.min(Math.max(sy0 + 1, 0), sh - 1)];
    for (let k = 0; k < 2; k++) {
      if (rowOf[k] !== want[k]) {
        if (rowOf[1 - k] === want[k]) {
          rows[k].set(rows[1 - k]);
        } else {
          horizontal(want[k], rows[k]);
        }
        rowOf[k] = want[k];
      }
    }
    const b0 = ys.a0[dy], b1 = ys.a1[dy];
    const r0 = rows[0], r1 = rows[1];
    const o = dy * rowLen;
    for (let x = 0; x < rowLen; x++) {
      dst[o + x] = clampByte((((b0 * (r0[x] >> 4)) >> 16) + ((b1 * (r1[x] >> 4)) >> 16) + 2) >> 2);
    }
  }
  return dst;
}

// OpenCV's INTER_AREA when shrinking: whole-number factors average each block (rounded half up,
// as its SIMD path does); other factors weight each source pixel by its overlap, in float32.
// The taps are typed arrays (destination, source, float32 weight), walked without allocating.
function areaTaps(ssize, dsize) {
  const scale = 1 / (dsize / ssize);
  const dst = [], src = [], weight = [];
  const tap = (d, s, w) => { dst.push(d); src.push(s); weight.push(w); };
  for (let d = 0; d < dsize; d++) {
    const fs1 = d * scale;
    const fs2 = fs1 + scale;
    const cell = Math.min(scale, ssize - fs1);
    let s2 = Math.floor(fs2);
    let s1 = Math.ceil(fs1);
    s2 = Math.min(s2, ssize - 1);
    s1 = Math.min(s1, s2);
    if (s1 - fs1 > 1e-3) tap(d, s1 - 1, f32((s1 - fs1) / cell));
    for (let s = s1; s < s2; s++) tap(d, s, f32(1 / cell));
    if (fs2 - s2 > 1e-3) tap(d, s2, f32(Math.min(Math.min(fs2 - s2, 1), cell) / cell));
  }
  return { count: dst.length, dst: Int32Array.from(dst), src: Int32Array.from(src), weight: Float32Array.from(weight) };
}

export function resizeArea(src, sw, sh, dw, dh, cn) {
  const dst = new Uint8Array(dw * dh * cn);
  const kx = sw / dw, ky = sh / dh;
  if (Number.isInteger(kx) && Number.isInteger(ky)) {
    const area = kx * ky, half = area >> 1;
    for (let dy = 0; dy < dh; dy++) {
      for (let dx = 0; dx < dw; dx++) {
        for (let c = 0; c < cn; c++) {
          let sum = 0;
          for (let y = dy * ky; y < (dy + 1) * ky; y++) {
            let p = (y * sw + dx * kx) * cn + c;
            for (let x = 0; x < kx; x++, p += cn) sum += src[p];
          }
          dst[(dy * dw + dx) * cn + c] = Math.floor((sum + half) / area);
        }
      }
    }
    return dst;
  }
  const xtab = areaTaps(sw, dw);
  const ytab = areaTaps(sh, dh);
  const rowLen = dw * cn;
  // float32 storage rounds each sum as OpenCV's float buffers do (the same as f32() on each step)
  const buf = new Float32Array(rowLen);
  const sum = new Float32Array(rowLen);
  let prev = -1;
  const flush = (dy) => {
    for (let x = 0; x < rowLen; x++) dst[dy * rowLen + x] = clampByte(pyRound(sum[x]));
  };
  for (let ty = 0; ty < ytab.count; ty++) {
    const dy = ytab.dst[ty], beta = ytab.weight[ty];
    const base = ytab.src[ty] * sw * cn;
    buf.fill(0);
    for (let tx = 0; tx < xtab.count; tx++) {
      const d = xtab.dst[tx] * cn, s = base + xtab.src[tx] * cn, alpha = xtab.weight[tx];
      for (let c = 0; c < cn; c++) buf[d + c] += f32(src[s + c] * alpha);
    }
    if (dy !== prev) {
      if (prev >= 0) flush(prev);
      for (let x = 0; x < rowLen; x++) sum[x] = beta * buf[x];
      prev = dy;
    } else {
      for (let x = 0; x < rowLen; x++) sum[x] += f32(beta * buf[x]);
    }
  }
  if (prev >= 0) flush(prev);
  return dst;
}

// cv2.cvtColor(BGR2GRAY) on uint8: Y = (9798 R + 19235 G + 3735 B + 2^14) >> 15, of the region
// x, y, side x side of an RGBA image w pixels wide.
export function greyRegion(rgba, w, x, y, side) {
  const out = new Uint8Array(side * side);
  for (let r = 0; r < side; r++) {
    let p = ((y + r) * w + x) * 4;
    for (let c = 0; c < side; c++, p += 4) {
      out[r * side + c] = (rgba[p] * 9798 + rgba[p + 1] * 19235 + rgba[p + 2] * 3735 + 16384) >> 15;
    }
  }
  return out;
}
