// What the app says, in plain words.

export const MOODS = {
  positive: { label: "Good", hint: "positive" },
  neutral: { label: "Neutral", hint: "neither good nor bad" },
  negative: { label: "Low", hint: "negative" },
  other: { label: "Something else", hint: "surprised, unsure…" },
};
export const MOOD_ORDER = ["positive", "neutral", "negative", "other"];

// The inference mode's names: the same words the clinician sees (backend/patients/models.py
// InferenceMode's labels; tests/dashboard/test_inference_mode_names.py keeps them equal).
export const MODE_NAMES = {
  on_device: "Analysed on the phone (no photo leaves it)",
  frames: "Photos sent to the clinic",
};

const ENROLL_ERRORS = {
  enrollment_code_invalid: "This code is not valid. Check that you opened the whole link, or ask your clinic for a new one.",
  enrollment_code_used: "This code was already used. Each code works only once: ask your clinic for a new one.",
  enrollment_code_expired: "This code has expired. Ask your clinic for a new one.",
  patient_inactive: "Your clinic has paused your monitoring, so this phone cannot be connected now. Please contact your clinic.",
  validation_error: "That does not look like a MoodWatch code. A code has 10 letters and digits.",
};

export function enrollErrorText(error) {
  if (error && error.code && ENROLL_ERRORS[error.code]) return ENROLL_ERRORS[error.code];
  if (error && error.name === "TransientError") {
    return error.message.startsWith("network")
      ? "No internet connection. Connect to the internet and try again."
      : "The clinic's server is busy. Please wait a minute and try again.";
  }
  return "Something went wrong while connecting this phone. Please try again, or contact your clinic.";
}

export const STOP_TEXT = {
  device_token_invalid: "This phone is no longer connected to your clinic. Ask your clinic for a new link to connect it again.",
  device_revoked: "Your clinic disconnected this phone. Ask your clinic for a new link to connect it again.",
  consent_missing: "Your clinic has not recorded your consent yet, so nothing can be sent. Your check-ins are kept on this phone until then.",
  patient_inactive: "Your clinic has paused your monitoring. Your check-ins are kept on this phone for now.",
};

export const CAMERA_ERRORS = {
  NotAllowedError: "The camera permission was refused. Allow the camera for this site in your browser's settings, then try again.",
  NotFoundError: "No front camera was found on this device.",
  NotReadableError: "The camera is being used by another app. Close it and try again.",
};

export function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

export function dayLabel(day) {
  const [y, m, d] = day.split("-").map(Number);
  const date = new Date(y, m - 1, d);
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (date.toDateString() === today.toDateString()) return "Today";
  if (date.toDateString() === yesterday.toDateString()) return "Yesterday";
  return date.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" });
}
