// The public device API v1, as the simulator calls it (clients/simulator/api.py), from the browser.

// An answer that retrying will not change (4xx other than 408 and 429).
export class ApiError extends Error {
  constructor(status, body) {
    const code = (body && body.code) || `http_${status}`;
    super(`HTTP ${status} ${code}: ${(body && body.detail) || ""}`);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

// No network, a 5xx, 408 or 429: the same request may succeed later.
export class TransientError extends Error {
  constructor(message, retryAfterSeconds = null) {
    super(message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

async function call(method, path, { token = null, json = undefined, form = undefined } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Device ${token}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form; // the browser writes the multipart boundary
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body, credentials: "omit", cache: "no-store" });
  } catch (error) {
    throw new TransientError(`network error: ${error.message}`);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (response.status >= 500 || response.status === 408 || response.status === 429) {
    const retry = Number.parseFloat(response.headers.get("Retry-After") || "");
    throw new TransientError(`HTTP ${response.status}`, Number.isFinite(retry) ? retry : null);
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return { status: response.status, body: data };
}

export function enroll(code, label) {
  return call("POST", "/api/v1/devices/enroll/", { json: { code, label } });
}

export function modelManifest(token) {
  return call("GET", "/api/v1/model/", { token });
}

export function sendMoodBatch(token, batch) {
  return call("POST", "/api/v1/mood-batches/", { token, json: batch });
}

export function sendSelfReport(token, report) {
  return call("POST", "/api/v1/self-reports/", { token, json: report });
}

// Frames mode: the multipart body of the existing endpoint (backend/ingest/views.py).
export function sendFrameBatch(token, batchId, frames) {
  const form = new FormData();
  form.append("batch_id", batchId);
  frames.forEach((frame, i) => {
    form.append("frames", frame.blob, `${String(i).padStart(3, "0")}.jpg`);
    form.append("captured_at", frame.captured_at);
  });
  return call("POST", "/api/v1/frame-batches/", { token, form });
}
