// A check-in: the front camera, sampled every `sampling_seconds`. In on_device mode each sample goes
// through the in-browser pipeline and only its numbers are queued; in frames mode a JPEG is queued
// for upload. No image is kept or shown beyond the live preview (and, in frames mode, the queue).

// captured_at in the phone's local time with its UTC offset, e.g. 2026-12-05T09:15:02.250+01:00.
export function localIso(date) {
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}` +
    `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

// A face at the frame's edge may reach past it; the server refuses a box outside frame_size (and with
// it the whole batch), so the box is clipped to the frame.
export function insideFrame([x, y, w, h], [width, height]) {
  const left = Math.min(Math.max(0, x), width - 1);
  const top = Math.min(Math.max(0, y), height - 1);
  const right = Math.min(width, Math.max(x + w, left + 1));
  const bottom = Math.min(height, Math.max(y + h, top + 1));
  return [left, top, right - left, bottom - top];
}

// Six decimals are far finer than the model (its parity with the server is held at 1e-3) and keep
// the four probabilities' sum within 4e-6 of the model's; the full 17 digits of a double would be
// about a fifth of each entry's bytes on the wire.
const DECIMALS = 6;
const rounded = (x) => Number(x.toFixed(DECIMALS));

export function wireFace(face, frameSize) {
  const probabilities = {};
  for (const [mood, p] of Object.entries(face.probabilities)) probabilities[mood] = rounded(p);
  return { box: insideFrame(face.box, frameSize), detection_score: rounded(face.detection_score), probabilities };
}

function jpegOf(video) {
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("JPEG encoding failed"))), "image/jpeg", 0.85);
  });
}

export class CheckIn {
  // video: the preview element; onSample({face, bystanders}); onError(error)
  constructor({ manifest, pipeline, video, queue, onSample, onError }) {
    this.manifest = manifest;
    this.pipeline = pipeline;
    this.video = video;
    this.queue = queue; // async (entry) => void
    this.onSample = onSample || (() => {});
    this.onError = onError || (() => {});
    this.stream = null;
    this.timer = null;
    this.busy = false;
    this.generation = 0;
    this.samples = 0;
    this.faces = 0;
  }

  get running() {
    return this.stream !== null;
  }

  async start() {
    if (this.stream) return;
    const generation = ++this.generation;
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } },
      audio: false,
    });
    if (generation !== this.generation) {
      // Paused, finished or hidden while the browser was opening the camera: close it again.
      for (const track of stream.getTracks()) track.stop();
      return;
    }
    this.stream = stream;
    this.video.srcObject = stream;
    await this.video.play().catch(() => {});
    await new Promise((resolve) => {
      if (this.video.readyState >= 2 && this.video.videoWidth) resolve();
      else this.video.addEventListener("loadeddata", resolve, { once: true });
    });
    if (generation !== this.generation) return; // stopped while starting
    const every = Math.max(1, Number(this.manifest.sampling_seconds) || 5) * 1000;
    this.sample();
    this.timer = setInterval(() => this.sample(), every);
  }

  // Stops the camera at once: the tracks end, so the phone's camera light goes off.
  stop() {
    this.generation += 1;
    clearInterval(this.timer);
    this.timer = null;
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    this.video.srcObject = null;
  }

  async sample() {
    if (this.busy || !this.stream || !this.video.videoWidth) return;
    this.busy = true;
    const capturedAt = localIso(new Date());
    try {
      if (this.manifest.mode === "frames") {
        const blob = await jpegOf(this.video);
        if (!this.stream) return;
        await this.queue({ kind: "jpeg", captured_at: capturedAt, blob });
        this.samples += 1;
        this.onSample({ face: undefined });
      } else {
        const result = await this.pipeline.analyze(this.video);
        if (!this.stream) return; // paused while the model ran: this sample is not kept
        const face = result.face ? wireFace(result.face, result.frame_size) : null;
        await this.queue({
          kind: "mood", captured_at: capturedAt, face, bystanders: result.bystanders || 0,
          frame_size: result.frame_size, model_version: this.manifest.version,
        });
        this.samples += 1;
        if (face) this.faces += 1;
        this.onSample({ face, bystanders: result.bystanders || 0 });
      }
    } catch (error) {
      this.onError(error);
    } finally {
      this.busy = false;
    }
  }
}
