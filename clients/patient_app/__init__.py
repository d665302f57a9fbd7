"""The patient app: a web app (PWA) served at /app/ that runs face detection and the mood model in the
browser and talks to the server only through the public device API (/api/v1/), like the simulator."""
