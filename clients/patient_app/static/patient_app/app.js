// MoodWatch patient app: enrollment, check-ins, the self-report and the upload queue's status.
// Talks only to the public device API (api.js); keeps its token and queue in IndexedDB (store.js).
import * as api from "./api.js";
import { CheckIn, localIso } from "./checkin.js";
import { Uploader, connectionType } from "./queue.js";
import * as store from "./store.js";
import {
  CAMERA_ERRORS, MODE_NAMES, MOOD_ORDER, MOODS, STOP_TEXT, dayLabel, enrollErrorText, plural,
} from "./text.js";

const $ = (id) => document.getElementById(id);
const state = { token: null, manifest: null, pipeline: null, pipelineVersion: null, checkin: null, codeFromLink: null };

function show(view) {
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${view}`;
  const heading = document.querySelector(`#view-${view} h1`);
  if (heading && heading.hasAttribute("tabindex")) heading.focus();
}

function announce(text) {
  $("status").textContent = text;
}

function showError(id, text) {
  const el = $(id);
  el.textContent = text || "";
  el.hidden = !text;
}

function deviceLabel() {
  const ua = navigator.userAgent;
  const platform = (navigator.userAgentData && navigator.userAgentData.platform) ||
    (/iPad/.test(ua) ? "iPad" : /iPhone/.test(ua) ? "iPhone" : /Android/.test(ua) ? "Android" : "browser");
  return `Web app on ${platform}`.slice(0, 120);
}

// --- the upload queue -------------------------------------------------------------------------
const uploader = new Uploader({
  getToken: async () => state.token,
  onChange: renderQueue,
  onStop: (error) => showError("stop-message", STOP_TEXT[error.code] || `The clinic's server refused the upload (${error.code}).`),
  onModeMismatch: () => refreshManifest(),
});

function renderNet() {
  $("net").textContent = navigator.onLine ? "Online" : "Offline";
  $("net").classList.toggle("off", !navigator.onLine);
}

async function renderQueue(status) {
  const waiting = status || { ...(await store.waitingCounts()), can: uploader.canSend() };
  const parts = [];
  if (waiting.frames) parts.push(plural(waiting.frames, "moment", "moments"));
  if (waiting.reports) parts.push(plural(waiting.reports, "feeling", "feelings"));
  let text;
  if (!parts.length) text = "Everything has been sent.";
  else if (!waiting.can.ok && waiting.can.reason === "offline") text = `${parts.join(" and ")} waiting. They will be sent when the phone is online.`;
  else if (!waiting.can.ok && waiting.can.reason === "wifi_only") text = `${parts.join(" and ")} waiting for Wi-Fi.`;
  else if (!waiting.can.ok) text = `${parts.join(" and ")} kept on this phone for now.`;
  else text = `${parts.join(" and ")} waiting to be sent…`;
  const notSent = await store.getConfig("not_sent", 0);
  if (notSent) text += ` ${plural(notSent, "record", "records")} could not be sent and were removed.`;
  if ($("queue-status").textContent !== text) $("queue-status").textContent = text;
  $("queue-status").dataset.waiting = String(waiting.frames + waiting.reports);
  renderNet();
  await renderSent();
}

async function renderSent() {
  const rows = await store.sentByDay();
  const body = $("sent-table").querySelector("tbody");
  body.replaceChildren();
  const frames = state.manifest && state.manifest.mode === "frames";
  $("col-frames").textContent = frames ? "Photos" : "Moments";
  $("col-faces").hidden = frames;
  for (const row of rows) {
    const tr = document.createElement("tr");
    tr.dataset.day = row.day;
    const cells = [dayLabel(row.day), row.frames || 0];
    if (!frames) cells.push(row.faces || 0);
    cells.push(row.self_reports || 0);
    cells.forEach((value, i) => {
      const cell = document.createElement(i === 0 ? "th" : "td");
      if (i === 0) cell.scope = "row";
      cell.textContent = String(value);
      tr.append(cell);
    });
    body.append(tr);
  }
  $("sent-table").hidden = rows.length === 0;
  $("sent-empty").hidden = rows.length > 0;
}

function renderWifiNote() {
  const type = connectionType();
  $("wifi-note").textContent = type
    ? `Now connected by ${type === "cellular" ? "mobile data" : type}.`
    : state.manifest && state.manifest.mode === "frames"
      // With photos sent to the clinic, the check-in's photos go, not small records: saying "a few hundred bytes" misled.
      ? "This browser cannot tell Wi-Fi from mobile data, so photos are sent on any connection. " +
        "Each photo is tens of kilobytes, far more than a mood record."
      : "This browser cannot tell Wi-Fi from mobile data, so records are sent on any connection. " +
        "Mood records are small: a few hundred bytes each.";
}

// --- the model manifest and pipeline ------------------------------------------------------------
async function refreshManifest() {
  if (navigator.onLine && state.token) {
    try {
      const { body } = await api.modelManifest(state.token);
      state.manifest = body;
      await store.setConfig("manifest", body);
    } catch (error) {
      if (error instanceof api.ApiError && error.status === 401) {
        showError("stop-message", STOP_TEXT[error.code] || STOP_TEXT.device_token_invalid);
      }
    }
  }
  if (!state.manifest) state.manifest = await store.getConfig("manifest");
  renderMode();
  renderWifiNote(); // its words depend on the mode too
  return state.manifest;
}

// The files this page fetched before the service worker controlled it (the first visit: enrollment
// runs while the worker installs) went around its cache. Fetching them again through the worker
// keeps them, so that the next start works offline; hashed or plain static names alike.
async function keepForOffline() {
  if (!("serviceWorker" in navigator)) return;
  await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) {
    await new Promise((resolve) => navigator.serviceWorker.addEventListener("controllerchange", resolve, { once: true }));
  }
  const staticBase = new URL("../../", new URL(document.body.dataset.pipeline, location.href)).pathname;
  const kept = (url) => url.origin === location.origin && (url.pathname.startsWith(staticBase) ||
    (url.pathname.startsWith("/api/v1/model/") && url.pathname !== "/api/v1/model/"));
  const urls = performance.getEntriesByType("resource").map((entry) => new URL(entry.name)).filter(kept);
  const answers = await Promise.all(urls.map((url) => fetch(url, { credentials: "same-origin" }).catch(() => null)));
  if (answers.every((response) => response && response.ok)) document.body.dataset.offlineReady = "yes";
}

async function loadPipeline(manifest) {
  if (state.pipeline && state.pipelineVersion === manifest.version) return state.pipeline;
  if (state.pipeline) state.pipeline.close();
  const module = await import(document.body.dataset.pipeline);
  state.pipeline = await module.createPipeline(manifest);
  state.pipelineVersion = manifest.version;
  return state.pipeline;
}

function renderMode() {
  const m = state.manifest;
  const detail = $("privacy-detail");
  if (!m) {
    $("mode-summary").textContent = "Connect to the internet once to finish setting up.";
    return;
  }
  if (m.mode === "frames") {
    $("mode-summary").textContent = `Your clinic's setting: ${MODE_NAMES.frames}. Photos from your check-ins are sent to the clinic and deleted after analysis.`;
    detail.innerHTML = "";
    detail.append(fact("Sent: the photos taken during a check-in (one every " + m.sampling_seconds + " seconds), with their time."),
      fact("The clinic's server finds the face, estimates the expression, and deletes each photo after analysis."),
      fact("Sent: your answer to “How do you feel?”, when you give one."),
      fact("Never sent: sound, your name, your location."));
  } else {
    $("mode-summary").textContent = `Your clinic's setting: ${MODE_NAMES.on_device}. Only mood records are sent, never a picture.`;
    detail.innerHTML = "";
    detail.append(fact("Sent: for each moment (one every " + m.sampling_seconds + " seconds during a check-in), its time, where the face was, the share of each expression, and how many other people were in view."),
      fact("Other people's faces are counted, never analysed."),
      fact("Sent: your answer to “How do you feel?”, when you give one."),
      fact("Never sent: photos, video, sound, your name, your location."));
  }
}

function fact(text) {
  const p = document.createElement("p");
  p.className = "small";
  p.textContent = text;
  return p;
}

// --- enrollment ---------------------------------------------------------------------------------
function showEnroll() {
  show("enroll");
  const fromLink = Boolean(state.codeFromLink);
  $("code-field").hidden = fromLink;
  $("code-from-link").hidden = !fromLink;
  if (state.token) {
    $("code-from-link").textContent = "This phone is already connected. Connecting again with this new code replaces the old connection.";
    $("code-from-link").hidden = false;
  }
}

async function onEnroll(event) {
  event.preventDefault();
  const code = state.codeFromLink || $("code").value.trim();
  showError("enroll-error", "");
  if (!code) {
    showError("enroll-error", "Enter the code from your clinic.");
    $("code").focus();
    return;
  }
  $("enroll-button").disabled = true;
  announce("Connecting this phone…");
  try {
    const { body } = await api.enroll(code, deviceLabel());
    state.token = body.token;
    state.codeFromLink = null;
    await store.setConfig("token", body.token);
    await store.setConfig("device", { device_id: body.device_id, patient_id: body.patient_id, enrolled_at: localIso(new Date()) });
    announce("This phone is connected.");
    await prepare();
  } catch (error) {
    const text = enrollErrorText(error);
    showError("enroll-error", text);
    announce(text);
    if (error instanceof api.ApiError && state.codeFromLink) {
      // A used, expired or mistyped code from the link: let the patient type a new one.
      state.codeFromLink = null;
      $("code-field").hidden = false;
      $("code-from-link").hidden = true;
    }
  } finally {
    $("enroll-button").disabled = false;
  }
}

// After enrollment: fetch the manifest and, in on_device mode, the model (so that a later check-in
// can start offline: the service worker keeps the files).
async function prepare() {
  show("prepare");
  const manifest = await refreshManifest();
  if (manifest && manifest.mode !== "frames") {
    try {
      await loadPipeline(manifest);
    } catch (error) {
      console.warn("MoodWatch: the model could not be prepared", error);
    }
  }
  keepForOffline().catch((error) => console.warn("MoodWatch: no offline start", error));
  await goHome();
}

// --- check-in -----------------------------------------------------------------------------------
async function startCheckin() {
  showError("start-error", "");
  $("start-button").disabled = true;
  try {
    const manifest = await refreshManifest();
    if (!manifest) {
      showError("start-error", "Connect to the internet once so the app can finish setting up, then try again.");
      return;
    }
    let pipeline = null;
    if (manifest.mode !== "frames") {
      announce("Preparing the mood model…");
      try {
        pipeline = await loadPipeline(manifest);
      } catch (error) {
        console.error(error);
        showError("start-error", `This phone could not run the mood model. Please tell your clinic: they can switch you to “${MODE_NAMES.frames}”.`);
        return;
      }
    }
    state.checkin = new CheckIn({
      manifest, pipeline, video: $("preview"),
      queue: async (entry) => {
        await store.addPending(entry);
        uploader.drain();
      },
      onSample: renderSample,
      onError: (error) => {
        console.error(error);
        showError("checkin-error", "A moment could not be analysed. The check-in goes on.");
      },
    });
    uploader.collecting = true;
    show("checkin");
    $("checkin-count").textContent = "";
    $("checkin-mode").textContent = manifest.mode === "frames"
      ? `A photo every ${manifest.sampling_seconds} s is sent to your clinic, and deleted after analysis.`
      : `A moment every ${manifest.sampling_seconds} s is analysed on this phone. No picture leaves it.`;
    await resumeCamera();
  } finally {
    $("start-button").disabled = false;
  }
}

function renderSample({ face }) {
  const c = state.checkin;
  if (state.manifest.mode === "frames") {
    $("checkin-count").textContent = `${plural(c.samples, "photo", "photos")} taken`;
    return;
  }
  $("checkin-count").textContent = `${plural(c.samples, "moment", "moments")} recorded · face seen ${c.faces}`;
  $("checkin-hint").textContent = face
    ? "Your face is in view. Carry on as you are."
    : "Your face is not in view. Hold the phone at eye level, about an arm's length away.";
}

// "on": the red sign shows; "off": paused; "starting": neither (the camera is being asked for).
function setCamera(mode) {
  const on = mode === "on";
  $("rec").hidden = !on;
  $("paused").hidden = mode !== "off";
  $("preview-off").hidden = mode !== "off";
  $("pause-button").textContent = mode === "off" ? "Resume" : "Pause";
  $("pause-button").disabled = mode === "starting";
  $("pause-button").setAttribute("aria-pressed", mode === "off" ? "true" : "false");
}

async function resumeCamera() {
  showError("checkin-error", "");
  setCamera("starting");
  try {
    await state.checkin.start();
    if (!state.checkin || !state.checkin.running) return; // finished or hidden while starting
    setCamera("on");
    announce("Camera on. The check-in has started.");
  } catch (error) {
    state.checkin.stop();
    setCamera("off");
    showError("checkin-error", CAMERA_ERRORS[error.name] || `The camera could not start (${error.name || error.message}).`);
  }
}

function pauseCamera(reason = "Camera off. The check-in is paused.") {
  if (!state.checkin) return;
  state.checkin.stop();
  setCamera("off");
  announce(reason);
}

function onPause() {
  if (state.checkin.running) pauseCamera();
  else resumeCamera();
}

function onFinish() {
  if (state.checkin) state.checkin.stop();
  setCamera("starting");
  uploader.collecting = false;
  uploader.drain();
  announce("Camera off. The check-in is finished.");
  show("feel");
}

async function onFeel(mood) {
  if (mood) {
    const id = crypto.randomUUID();
    const reportedAt = localIso(new Date());
    await store.addOutbox({
      id, kind: "self_report", created: Date.now(), attempts: 0, next_at: 0, frames: 1,
      counts: { [reportedAt.slice(0, 10)]: { self_reports: 1 } },
      body: { report_id: id, reported_at: reportedAt, mood },
    });
  }
  uploader.drain();
  const c = state.checkin;
  const what = state.manifest.mode === "frames" ? plural(c.samples, "photo", "photos") : `${plural(c.samples, "moment", "moments")} (face seen ${c.faces})`;
  $("thanks-text").textContent = `${mood ? "Your answer and " : ""}${what} will be sent to your clinic${navigator.onLine ? "" : " when the phone is back online"}.`;
  state.checkin = null;
  show("thanks");
}

async function goHome() {
  show("home");
  renderMode();
  renderWifiNote();
  await renderQueue();
  uploader.drain();
}

// --- start ----------------------------------------------------------------------------------------
async function main() {
  // The enrollment code travels in the #fragment: read it, then remove it from the address bar
  // and from history at once.
  const match = location.hash.match(/enroll=([^&]+)/);
  if (match) {
    state.codeFromLink = decodeURIComponent(match[1]);
    history.replaceState(null, "", location.pathname + location.search);
  }
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(document.body.dataset.sw, { scope: "/app/" }).catch((error) => {
      console.warn("MoodWatch: no offline start (service worker)", error);
    });
  }
  state.token = await store.getConfig("token");
  state.manifest = await store.getConfig("manifest");
  uploader.wifiOnly = await store.getConfig("wifi_only", false);
  $("wifi-only").checked = uploader.wifiOnly;

  $("enroll-form").addEventListener("submit", onEnroll);
  $("start-button").addEventListener("click", startCheckin);
  $("pause-button").addEventListener("click", onPause);
  $("finish-button").addEventListener("click", onFinish);
  $("skip-button").addEventListener("click", () => onFeel(null));
  $("home-button").addEventListener("click", goHome);
  $("wifi-only").addEventListener("change", async (event) => {
    uploader.wifiOnly = event.target.checked;
    await store.setConfig("wifi_only", uploader.wifiOnly);
    uploader.wake();
  });
  $("wipe-button").addEventListener("click", async () => {
    if (state.checkin) state.checkin.stop();
    await store.wipe();
    location.replace(location.pathname);
  });
  for (const mood of MOOD_ORDER) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = `mood mood-${mood}`;
    button.dataset.mood = mood;
    button.innerHTML = `<span class="mood-label"></span><span class="mood-hint"></span>`;
    button.querySelector(".mood-label").textContent = MOODS[mood].label;
    button.querySelector(".mood-hint").textContent = MOODS[mood].hint;
    button.addEventListener("click", () => onFeel(mood));
    $("mood-buttons").append(button);
  }
  // The camera never runs while the page is hidden (another app, the lock screen, another tab).
  document.addEventListener("visibilitychange", () => {
    if (document.hidden && state.checkin && state.checkin.running) pauseCamera("Camera off: the app was hidden. The check-in is paused.");
  });
  window.addEventListener("pagehide", () => state.checkin && state.checkin.stop());
  if (navigator.connection && navigator.connection.addEventListener) {
    navigator.connection.addEventListener("change", renderWifiNote);
  }
  window.addEventListener("online", renderNet);
  window.addEventListener("offline", renderNet);
  renderNet();

  if (state.codeFromLink || !state.token) showEnroll();
  else await goHome();
}

main();
