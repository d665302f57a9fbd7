"""python manage.py demo_run: what `make run` does after migrating.

1. the DEMO clinician (`demo_clinician`) and two demo patients, with consent;
2. the static files collected into STATIC_ROOT as in production (hashed names, cached as immutable,
   gzip copies; skipped when no source file changed), and the development server, started in the
   background on --host/--port, serving them;
3. the device simulator (clients/simulator, the public HTTP API only) enrolls one phone per patient
   and uploads the real sample photos (and --video, if given), then a replay of two weeks of frames
   built from real FER2013 PublicTest faces and stamped over the past 14 days (backend.demo.replay),
   to that server, which runs the real face detection and mood model on them: every record on the
   dashboard is inferred, none made up; one demo patient's last days trip the negative-mood alert.
   The second demo patient is in `on_device` mode: its simulated phone runs the same model itself
   (`--on-device`) and sends mood batches only, never a frame;
4. the URL and the login are printed, and the server keeps serving until Ctrl-C.

Running it again is safe: the saved device tokens are reused and sources already uploaded are
not uploaded again (the simulator remembers them in its state folder).
"""
import hashlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from backend.demo.selectors import demo_record_counts
from backend.demo.services import (
    DEMO_PATIENTS,
    demo_clinician_get,
    demo_device_prepare,
    demo_patients_ensure,
    demo_photos_link,
    demo_replay_prepare,
)
from backend.patients.models import InferenceMode

SERVER_START_TIMEOUT = 90
REPLAY_MAX_AGE_HOURS = 15 * 24
STATIC_IGNORE = ["CVS", ".*", "*~"]  # collectstatic's default ignore patterns
STATIC_STAMP = "static-sources.sha256"


def static_sources_digest() -> str:
    """A digest of every file collectstatic would collect (name, size, modification time)."""
    digest = hashlib.sha256()
    for finder in finders.get_finders():
        for path, storage in finder.list(STATIC_IGNORE):
            stat = os.stat(storage.path(path))
            name = f"{getattr(storage, 'prefix', None) or ''}/{path}"
            digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def server_environment(host: str, port: int) -> dict[str, str]:
    """The environment of the demo's server and of its collectstatic (benchmarks/page_load.py uses it too)."""
    # No beat runs here: the server runs the beat schedule itself (alerts, sweeps, rollups). The
    # replay's frames go back 14 days, beyond the 7 days a real phone's frames may be old.
    max_age = max(REPLAY_MAX_AGE_HOURS, int(os.environ.get("MAX_FRAME_AGE_HOURS", 0)))
    environment = {**os.environ, "MOODWATCH_EMBEDDED_SCHEDULER": "1", "MAX_FRAME_AGE_HOURS": str(max_age),
                   "MOODWATCH_HASHED_STATIC": "1"}
    # Alert e-mails link to this server unless an address is configured.
    environment.setdefault("MOODWATCH_PUBLIC_URL", f"http://{host}:{port}")
    return environment


def static_collect(environment: dict[str, str], stdout) -> None:
    """Hashed, gzipped static files in STATIC_ROOT, as production serves them (a first visit to a
    patient page sent 4.8 MB of Plotly uncompressed with max-age=0). collectstatic re-hashes and
    re-compresses every file each time (~12 s), so it runs only when a source file changed."""
    stamp = settings.VAR_DIR / STATIC_STAMP
    digest = static_sources_digest()
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if manifest.is_file() and stamp.is_file() and stamp.read_text() == digest:
        return
    stdout.write("collecting the static files (hashed names and gzip copies, as in production) ...")
    result = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
                            cwd=settings.BASE_DIR, env=environment)
    if result.returncode != 0:
        raise CommandError(f"collectstatic failed (exit {result.returncode}); see its output above")
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest)


class Command(BaseCommand):
    help = "Set up the demo (clinician, patients, real photos through the real pipeline) and serve it."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--video", type=Path, help="a video to upload for the first demo patient")
        parser.add_argument("--state-dir", type=Path, default=settings.BASE_DIR / "var" / "demo",
                            help="where the simulated phones keep their tokens and queues")

    def handle(self, *args, host, port, video, state_dir, **options):
        if not settings.DEBUG:
            raise CommandError("The demo runs only with DEBUG on (the embedded default of `make run`).")
        if video is not None and not video.is_file():
            raise CommandError(f"--video: no such file: {video}")
        call_command("demo_clinician", stdout=self.stdout)
        clinician = demo_clinician_get()
        patients = demo_patients_ensure(clinician=clinician)
        server_url = f"http://{host}:{port}"
        server = self._server_start(host, port)
        try:
            self._wait_healthy(server, server_url)
            for spec, patient in zip(DEMO_PATIENTS, patients):
                self._feed(spec, patient, server_url, state_dir, clinician,
                           video if spec is DEMO_PATIENTS[0] else None)
            self._announce(server_url, patients)
            self._serve_until_stopped(server)
        finally:
            if server.poll() is None:
                server.terminate()
                server.wait(timeout=20)

    # --- steps -------------------------------------------------------------------------------------
    def _server_start(self, host, port) -> subprocess.Popen:
        environment = server_environment(host, port)
        static_collect(environment, self.stdout)
        command = [sys.executable, "manage.py", "runserver", "--noreload", f"{host}:{port}"]
        self.stdout.write(f"starting the server: {' '.join(command[1:])}")
        return subprocess.Popen(command, cwd=settings.BASE_DIR, env=environment)

    def _wait_healthy(self, server, server_url):
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError(
                    f"the server exited with {server.returncode}; see its output above (is the port in use?)"
                )
            try:
                with urllib.request.urlopen(f"{server_url}/healthz", timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        raise CommandError(f"the server did not answer {server_url}/healthz within {SERVER_START_TIMEOUT}s")

    def _feed(self, spec, patient, server_url, state_dir, clinician, video):
        folder = state_dir / spec.reference
        code = demo_device_prepare(patient=patient, state_dir=folder / "phone", server=server_url, issued_by=clinician)
        try:
            photos = demo_photos_link(patient_spec=spec, source_dir=Path(settings.MOODWATCH["SAMPLE_IMAGES_DIR"]),
                                      target_dir=folder / "photos")
        except FileNotFoundError as error:
            raise CommandError(f"{error}. The demo uploads the real photos of ../shared/images; "
                               "set MOODWATCH_SAMPLE_IMAGES_DIR to a folder that holds them.")
        uploads = [["--images", str(photos), "--interval", "600"]]  # photos "taken" 10 minutes apart
        if video is not None:
            uploads.append(["--video", str(video.resolve()), "--fps", "1"])
        try:
            replay = folder / "replay"
            faces = Path(settings.MOODWATCH["DEMO_FACES_DIR"])
            demo_replay_prepare(patient=patient, target_dir=replay, faces_dir=faces)
        except FileNotFoundError as error:
            raise CommandError(f"{error}. The demo replays FER2013 PublicTest faces from ../shared/datasets; "
                               "set MOODWATCH_DEMO_FACES_DIR to the folder that holds them.")
        # each replay frame's file time is its capture time
        uploads.append(["--images", str(replay), "--start", "mtime", "--batch-size", "30"])
        for i, source in enumerate(uploads):
            command = [sys.executable, "-m", "clients.simulator", "--server", server_url,
                       "--state-dir", str(folder / "phone"), "--label", f"demo phone ({spec.reference})", *source]
            if spec.inference_mode == InferenceMode.ON_DEVICE:
                command.append("--on-device")  # the "phone" runs the model: mood batches, no frame
            if code and i == 0:
                command += ["--code", code]
            self.stdout.write(f"\n{spec.reference}: {' '.join(command[1:])}")
            self.stdout.flush()
            result = subprocess.run(command, cwd=settings.BASE_DIR)
            if result.returncode != 0:
                raise CommandError(f"the device simulator failed for {spec.reference} (exit {result.returncode})")

    def _announce(self, server_url, patients):
        counts = demo_record_counts(patients=patients)
        bar = "=" * 78
        lines = [
            bar,
            f"MoodWatch is running at {server_url}/   (admin: {server_url}/admin/)",
            "DEMO clinician login (development only): username=demo password=demo-clinician",
            *(f"  {p.reference}: {counts[p.pk]} mood records, all inferred by the model from real faces "
              "(sample photos and a 14-day DEMO REPLAY of FER2013 faces), "
              + ("on the simulated phone (on_device mode)" if p.inference_mode == InferenceMode.ON_DEVICE
                 else "on the server (frames mode)") for p in patients),
            "Press Ctrl-C to stop.",
            bar,
        ]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()

    def _serve_until_stopped(self, server):
        def stop(signum, frame):
            server.send_signal(signal.SIGINT)

        signal.signal(signal.SIGTERM, stop)
        try:
            server.wait()
        except KeyboardInterrupt:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=20)
