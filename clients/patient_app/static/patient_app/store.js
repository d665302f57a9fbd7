// The phone's storage: one IndexedDB database. Nothing here leaves the phone except through queue.js.
//   config   key/value: the device token, the manifest, the settings
//   pending  sampled frames not yet in a batch (a mood entry, or a JPEG Blob in frames mode)
//   outbox   batches and self-reports formed and waiting to upload; each keeps the id it was given
//            when it was formed (batch_id / report_id), so that a retry is the same request
//   sent     what the server confirmed, counted per local day (never a picture)
const DB_NAME = "moodwatch";
const DB_VERSION = 1;

let opening = null;

export function openDb() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        db.createObjectStore("config", { keyPath: "key" });
        db.createObjectStore("pending", { keyPath: "seq", autoIncrement: true });
        const outbox = db.createObjectStore("outbox", { keyPath: "id" });
        outbox.createIndex("created", "created");
        db.createObjectStore("sent", { keyPath: "day" });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return opening;
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
  });
}

function result(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export async function getConfig(key, fallback = null) {
  const db = await openDb();
  const row = await result(db.transaction("config").objectStore("config").get(key));
  return row === undefined ? fallback : row.value;
}

export async function setConfig(key, value) {
  const db = await openDb();
  const tx = db.transaction("config", "readwrite");
  tx.objectStore("config").put({ key, value });
  await done(tx);
}

export async function addPending(entry) {
  const db = await openDb();
  const tx = db.transaction("pending", "readwrite");
  tx.objectStore("pending").add(entry);
  await done(tx);
}

export async function addOutbox(item) {
  const db = await openDb();
  const tx = db.transaction("outbox", "readwrite");
  tx.objectStore("outbox").put(item);
  await done(tx);
}

// Moves pending entries into outbox batches of at most `maxFrames`, in one transaction: an entry is
// either still pending or in exactly one batch, whose id is fixed from then on. `group(entry)` says
// which entries may share a batch (same model version and frame size); `form(id, entries)` builds
// the batch. With `fullOnly`, only full batches are formed (while a check-in is still sampling).
export async function formBatches({ maxFrames, group, form, fullOnly = false }) {
  const db = await openDb();
  const tx = db.transaction(["pending", "outbox"], "readwrite");
  const pending = tx.objectStore("pending");
  const entries = await result(pending.getAll());
  const groups = new Map();
  for (const entry of entries) {
    const key = group(entry);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(entry);
  }
  let formed = 0;
  for (const list of groups.values()) {
    for (let start = 0; start < list.length; start += maxFrames) {
      const chunk = list.slice(start, start + maxFrames);
      if (fullOnly && chunk.length < maxFrames) break;
      const item = form(crypto.randomUUID(), chunk);
      tx.objectStore("outbox").put(item);
      for (const entry of chunk) pending.delete(entry.seq);
      formed += 1;
    }
  }
  await done(tx);
  return formed;
}

export async function outboxItems() {
  const db = await openDb();
  return result(db.transaction("outbox").objectStore("outbox").index("created").getAll());
}

export async function updateOutbox(item) {
  return addOutbox(item);
}

// The server confirmed `item`: drop it and add its counts to the days it covers, together.
export async function confirmSent(item) {
  const db = await openDb();
  const tx = db.transaction(["outbox", "sent"], "readwrite");
  tx.objectStore("outbox").delete(item.id);
  const sent = tx.objectStore("sent");
  for (const [day, counts] of Object.entries(item.counts)) {
    const row = (await result(sent.get(day))) || { day, frames: 0, faces: 0, self_reports: 0 };
    for (const [name, n] of Object.entries(counts)) row[name] = (row[name] || 0) + n;
    sent.put(row);
  }
  await done(tx);
}

export async function dropOutbox(item) {
  const db = await openDb();
  const tx = db.transaction(["outbox", "config"], "readwrite");
  tx.objectStore("outbox").delete(item.id);
  const config = tx.objectStore("config");
  const row = (await result(config.get("not_sent"))) || { key: "not_sent", value: 0 };
  row.value += item.frames || 1;
  config.put(row);
  await done(tx);
}

export async function sentByDay() {
  const db = await openDb();
  const rows = await result(db.transaction("sent").objectStore("sent").getAll());
  return rows.sort((a, b) => (a.day < b.day ? 1 : -1));
}

export async function waitingCounts() {
  const db = await openDb();
  const tx = db.transaction(["pending", "outbox"]);
  const pending = await result(tx.objectStore("pending").count());
  const items = await result(tx.objectStore("outbox").getAll());
  let frames = pending;
  let reports = 0;
  for (const item of items) {
    if (item.kind === "self_report") reports += 1;
    else frames += item.frames;
  }
  return { frames, reports };
}

// "Remove MoodWatch from this phone": everything, token included.
export async function wipe() {
  const db = await openDb();
  const tx = db.transaction(["config", "pending", "outbox", "sent"], "readwrite");
  for (const name of ["config", "pending", "outbox", "sent"]) tx.objectStore(name).clear();
  await done(tx);
}
