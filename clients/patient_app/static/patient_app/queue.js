// The upload queue: sampled frames wait in IndexedDB (store.js), are formed into batches of at most
// MAX_FRAMES with a batch_id fixed at that moment, and upload with exponential back-off and jitter.
// A batch is removed only once the server confirmed it (201, or 200 for a replay), so a lost answer
// is retried with the same id and the server keeps it once.
import { ApiError, TransientError, sendFrameBatch, sendMoodBatch, sendSelfReport } from "./api.js";
import * as store from "./store.js";

export const MAX_FRAMES = 60; // the server's MAX_FRAMES_PER_BATCH default
const BASE_DELAY_MS = 2000;
const MAX_DELAY_MS = 15 * 60 * 1000;
const PAUSED_DELAY_MS = 60 * 60 * 1000; // consent missing / patient inactive: ask again in an hour

export function dayOf(capturedAt) {
  return capturedAt.slice(0, 10); // the phone's local date, as written in captured_at
}

// Exponential back-off with "equal jitter": half fixed, half random, so phones do not retry in step.
export function backoffMs(attempts, retryAfterSeconds = null) {
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.max(0, attempts - 1));
  const delay = ceiling / 2 + Math.random() * (ceiling / 2);
  return Math.max(delay, (retryAfterSeconds || 0) * 1000);
}

// navigator.connection.type is known on Android's Chrome; elsewhere the browser cannot tell.
export function connectionType() {
  const connection = navigator.connection;
  if (!connection || !connection.type || connection.type === "unknown") return null;
  return connection.type;
}

function groupOf(entry) {
  return entry.kind === "jpeg" ? "jpeg" : `${entry.model_version}|${entry.frame_size.join("x")}`;
}

function countsOf(entries) {
  const counts = {};
  for (const entry of entries) {
    const day = dayOf(entry.captured_at);
    counts[day] = counts[day] || { frames: 0, faces: 0 };
    counts[day].frames += 1;
    if (entry.face) counts[day].faces += 1;
  }
  return counts;
}

function formBatch(id, entries) {
  const base = { id, created: Date.now(), attempts: 0, next_at: 0, frames: entries.length, counts: countsOf(entries) };
  if (entries[0].kind === "jpeg") {
    // Frames mode: faces are found on the server; count the photos sent.
    for (const day of Object.values(base.counts)) delete day.faces;
    return { ...base, kind: "frames", jpegs: entries.map((e) => ({ blob: e.blob, captured_at: e.captured_at })) };
  }
  return {
    ...base,
    kind: "moods",
    body: {
      batch_id: id,
      model_version: entries[0].model_version,
      frame_size: entries[0].frame_size,
      frames: entries.map((e) => ({ captured_at: e.captured_at, face: e.face, bystanders: e.bystanders })),
    },
  };
}

export class Uploader {
  // getToken(): the device token; onChange(state): the UI's status; onStop(error): a problem only
  // the clinic can fix (device revoked, consent missing); onModeMismatch(): refresh the manifest.
  constructor({ getToken, onChange, onStop, onModeMismatch }) {
    this.getToken = getToken;
    this.onChange = onChange || (() => {});
    this.onStop = onStop || (() => {});
    this.onModeMismatch = onModeMismatch || (() => {});
    this.wifiOnly = false;
    this.collecting = false; // a check-in is sampling: form only full batches
    this.running = false;
    this.again = false;
    this.timer = null;
    this.blocked = null; // {code, until}
    this.lastError = null;
    window.addEventListener("online", () => this.wake());
    window.addEventListener("offline", () => this.report());
    if (navigator.connection && navigator.connection.addEventListener) {
      navigator.connection.addEventListener("change", () => this.wake());
    }
  }

  canSend() {
    if (!navigator.onLine) return { ok: false, reason: "offline" };
    if (this.blocked && this.blocked.until > Date.now()) return { ok: false, reason: this.blocked.code };
    const type = connectionType();
    if (this.wifiOnly && type && !["wifi", "ethernet"].includes(type)) return { ok: false, reason: "wifi_only" };
    return { ok: true };
  }

  // Back online (or Wi-Fi back): everything waiting is due now.
  async wake() {
    const items = await store.outboxItems();
    for (const item of items) {
      if (item.next_at > Date.now()) await store.updateOutbox({ ...item, next_at: 0 });
    }
    if (this.blocked && this.blocked.code === "network") this.blocked = null;
    this.drain();
  }

  async report() {
    const waiting = await store.waitingCounts();
    this.onChange({ ...waiting, can: this.canSend(), sending: this.running, lastError: this.lastError });
  }

  schedule(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.drain(), Math.max(50, ms));
  }

  async drain() {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.again = false;
        await this.pass();
      } while (this.again);
    } finally {
      this.running = false;
      await this.report();
    }
  }

  async pass() {
    await store.formBatches({ maxFrames: MAX_FRAMES, group: groupOf, form: formBatch, fullOnly: this.collecting });
    await this.report();
    const token = await this.getToken();
    if (!token) return;
    const items = await store.outboxItems();
    let nextDue = null;
    for (const item of items) {
      const can = this.canSend();
      if (!can.ok) {
        if (this.blocked && can.reason === this.blocked.code) this.schedule(this.blocked.until - Date.now());
        return; // the online / connection events wake us
      }
      if (item.next_at > Date.now()) {
        nextDue = Math.min(nextDue ?? Infinity, item.next_at);
        continue;
      }
      const outcome = await this.send(token, item);
      if (outcome === "stop") return;
      await this.report();
    }
    if (nextDue !== null) this.schedule(nextDue - Date.now());
  }

  async send(token, item) {
    try {
      if (item.kind === "moods") await sendMoodBatch(token, item.body);
      else if (item.kind === "frames") await sendFrameBatch(token, item.id, item.jpegs);
      else await sendSelfReport(token, item.body);
      await store.confirmSent(item);
      this.lastError = null;
      return "sent";
    } catch (error) {
      if (error instanceof TransientError) {
        const attempts = item.attempts + 1;
        await store.updateOutbox({ ...item, attempts, next_at: Date.now() + backoffMs(attempts, error.retryAfterSeconds) });
        this.lastError = "transient";
        return "later";
      }
      if (error instanceof ApiError) return this.refused(item, error);
      throw error;
    }
  }

  async refused(item, error) {
    if (error.status === 401) {
      // Revoked or unknown token: nothing will go through until the phone is enrolled again.
      this.blocked = { code: error.code, until: Infinity };
      this.onStop(error);
      return "stop";
    }
    if (error.code === "consent_missing" || error.code === "patient_inactive") {
      this.blocked = { code: error.code, until: Date.now() + PAUSED_DELAY_MS };
      this.onStop(error);
      return "stop";
    }
    if (error.code === "inference_mode_mismatch") {
      // The clinic switched this patient's mode: this batch can never be accepted; the next
      // check-in follows the new manifest.
      await store.dropOutbox(item);
      this.onModeMismatch();
      return "dropped";
    }
    // 400 / 409 / 413: the server will refuse this batch every time; keep the rest moving.
    console.warn("MoodWatch: a batch was refused and dropped", error);
    await store.dropOutbox(item);
    this.lastError = error.code;
    return "dropped";
  }
}
