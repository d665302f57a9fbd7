// MoodWatch patient app: service worker (scope /app/). Rendered by clients/patient_app/views.py.
// It keeps the app's shell and the model's files so that a check-in can start offline. It never
// answers or stores a request other than GET: uploads, enrollment and self-reports always go to the
// network (the app's own queue in IndexedDB retries them).
const VERSION = "{{ version }}";
const SHELL_CACHE = `moodwatch-shell-${VERSION}`;
// The model runtime's static files (LiteRT.js's WASM, loaded by plain name): they change only with
// the package, whose index.js is in the shell, so a new runtime is a new VERSION (a new cache).
const RUNTIME_CACHE = `moodwatch-runtime-${VERSION}`;
const FILES_CACHE = "moodwatch-files"; // the model files: named by their SHA-256, kept across versions
const PRECACHE = {{ precache|safe }};
const STATIC_URL = "{{ static_url }}";

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (/^moodwatch-(shell|runtime)-/.test(name) && name !== SHELL_CACHE && name !== RUNTIME_CACHE) {
        await caches.delete(name);
      }
    }
    await self.clients.claim();
  })());
});

// The page: the network first (a new version), the cached shell when offline.
async function shellFirstNetwork(request) {
  const cache = await caches.open(SHELL_CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(new URL(request.url).pathname, response.clone());
    return response;
  } catch (error) {
    const cached = await cache.match(new URL(request.url).pathname);
    if (cached) return cached;
    throw error;
  }
}

// Static files: the cache first, the network only for a file not kept yet. No background refresh:
// the runtime's WASM is megabytes, and a phone on mobile data must not fetch it again each start.
async function staticFile(request) {
  const shell = await caches.open(SHELL_CACHE);
  const inShell = await shell.match(request);
  if (inShell) return inShell;
  const runtime = await caches.open(RUNTIME_CACHE);
  const cached = await runtime.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await runtime.put(request, response.clone());
  return response;
}

// Model files: their URL carries their SHA-256 and the server marks them immutable; keep them.
async function immutableFile(request) {
  const files = await caches.open(FILES_CACHE);
  const cached = await files.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && (response.headers.get("Cache-Control") || "").includes("immutable")) {
    await files.put(request, response.clone());
  }
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return; // never touched: the network answers
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === "/app/" || url.pathname === "/app/manifest.webmanifest") {
    event.respondWith(shellFirstNetwork(request));
  } else if (url.pathname.startsWith(STATIC_URL)) {
    event.respondWith(staticFile(request));
  } else if (url.pathname.startsWith("/api/v1/model/") && url.pathname !== "/api/v1/model/") {
    event.respondWith(immutableFile(request));
  }
  // Everything else (the API's answers, the manifest of the model) goes to the network untouched.
});
