"""The harness behind benchmarks/ingest.py and benchmarks/soak.py: the deployed stack, real frames,
many simulated phones, and the checks that no record was lost or duplicated.

- `Stack` starts what docker-compose.yml runs, as plain processes on this machine: gunicorn (web),
  a Celery worker (prefork, N processes) and optionally Celery beat, on a scratch PostgreSQL
  database (`moodwatch_bench_<label>_<pid>`, created, migrated and dropped here) and a Redis
  database number and queue of their own, so nothing collides with `make test` or another run.
  The web runs with production settings (DJANGO_ENV=production, DEBUG off).
- `frame_pool` makes phone-like 640x360 JPEGs from the real photos in ../shared/images (random
  16:9 windows, mirror, rotation, brightness, noise, quality 70-92: the jitter of
  benchmarks/bench_inference.py) and counts the faces in each with MoodEstimator in this process.
  That count is the expected number of mood records per uploaded frame.
- `Load` runs many phones as threads. Each phone is enrolled through the public API with a
  one-time code and uploads with `clients.simulator.api.DeviceApi` (the simulator's client), so
  the load is what real phones send: multipart batches, `Authorization: Device <token>`,
  retries of the same batch_id on network errors and 5xx.
- `verify` reads the database: every accepted batch must be `done` with each frame's faces stored
  exactly once (records per (batch, frame) against the expected face count, and no
  (batch, frame, face) twice), and no frame left.
"""
from __future__ import annotations

import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from clients.simulator.api import ApiError, DeviceApi, TransientError  # noqa: E402
from profiling.memory import rss_kib  # noqa: E402
from profiling.stages import ENV as STAGE_TIMES_ENV  # noqa: E402

PY = sys.executable
PHOTOS = Path(os.environ.get("MOODWATCH_SAMPLE_IMAGES_DIR", ROOT.parent / "shared" / "images"))
PG_ADMIN_URL = os.environ.get("MOODWATCH_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("MOODWATCH_BENCH_REDIS_URL", "redis://127.0.0.1:6379")
ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback \(most recent call last\)")


def exit_cleanly_on_sigterm() -> None:
    """SIGTERM (e.g. `timeout`) ends the run through the normal exit path, so that the server
    processes are stopped and the scratch database is dropped."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


class Paused:
    """SIGSTOP another job's process for the measurement only, and always SIGCONT it afterwards.

    For measuring on a machine shared with a long CPU-bound job (e.g. model training) that can
    be paused briefly; the figures then say the job was paused."""

    def __init__(self, pid: int | None):
        self.pid = pid

    def __enter__(self):
        if self.pid:
            os.kill(self.pid, signal.SIGSTOP)
            deadline = time.monotonic() + 2
            while _process_state(self.pid) not in ("T", None) and time.monotonic() < deadline:
                time.sleep(0.01)  # SIGSTOP lands asynchronously: measure only once it has
        return self

    def __exit__(self, *exc):
        if self.pid:
            os.kill(self.pid, signal.SIGCONT)


def _process_state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def capture_stamps(count: int) -> list[str]:
    """Capture times for a batch of `count` frames, one a second, the last a second ago (with offset)."""
    now = datetime.now(UTC).astimezone()
    return [(now - timedelta(seconds=count - i)).isoformat() for i in range(count)]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


# --- frames ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PoolFrame:
    jpeg: bytes
    faces: int  # faces MoodEstimator finds in these exact bytes: the records this frame must give


def frame_pool(size: int, *, seed: int = 0) -> list[PoolFrame]:
    """`size` jittered 640x360 JPEGs from the real photos, with their expected face counts."""
    import cv2
    import numpy as np

    from benchmarks.bench_inference import jittered_frame
    from inference import MoodEstimator

    photos = [cv2.imread(str(p)) for p in sorted(PHOTOS.glob("*.jpg"))]
    if not photos:
        sys.exit(f"no photos in {PHOTOS}")
    rng = np.random.default_rng(seed)
    jpegs = []
    for i in range(size):
        frame = jittered_frame(photos[i % len(photos)], rng)
        ok, buffer = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(70, 93))])
        assert ok
        jpegs.append(buffer.tobytes())
    estimator = MoodEstimator.load(os.environ.get("MOOD_MODEL_PATH") or None)
    faces = [len(f) for f in estimator.estimate_batch(jpegs)]
    return [PoolFrame(jpeg, n) for jpeg, n in zip(jpegs, faces)]


# --- processes ------------------------------------------------------------------------------------

@dataclass
class StackOptions:
    label: str  # names the database, the queue and the log folder
    web_workers: int = 2
    web_threads: int = 1
    worker_processes: int = 2
    prefetch: int = 1
    beat: bool = False
    redis_db: int = 12
    log_level: str = "INFO"
    extra_env: dict = field(default_factory=dict)
    stage_times: bool = False  # have web and worker record their CPU time by stage


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_backends(database: str) -> list[int]:
    """PostgreSQL server processes serving connections to this database."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if f" {database} ".encode() in (proc / "cmdline").read_bytes().replace(b"\x00", b" ") + b" ":
                found.append(int(proc.name))
        except OSError:
            pass
    return found


class Stack:
    """gunicorn + Celery worker (+ beat) on a scratch database; use as a context manager."""

    def __init__(self, options: StackOptions, workdir: Path):
        self.options = options
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        tag = f"{options.label}_{os.getpid()}"
        self.database = f"moodwatch_bench_{tag}"
        self.database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{self.database}"
        self.queue = f"bench-{tag}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen] = {}
        self._pg_cpu: dict[int, float] = {}
        self._pg_lock = threading.Lock()
        self._stopping = threading.Event()
        self.logs: dict[str, Path] = {}
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TEST_DATABASE"))},
            "DJANGO_ENV": "production",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(40),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "BEHIND_TLS_PROXY": "false",
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": f"{REDIS_URL}/{options.redis_db}",
            "CELERY_QUEUE": self.queue,
            "CELERY_WORKER_PREFETCH_MULTIPLIER": str(options.prefetch),
            "CACHE_URL": f"{REDIS_URL}/{options.redis_db}?key_prefix={self.queue}",
            "ENROLL_THROTTLE_RATE": "100000/hour",  # every simulated phone enrolls from 127.0.0.1
            # benchmarks push each phone far past a real phone's hourly frames (flood.py measures the
            # scheduling at the upload throttle, not the budget that would stop the flooder)
            "DEVICE_FRAME_BUDGET_PER_HOUR": "0",
            "LOG_LEVEL": options.log_level,
            "PYTHONUNBUFFERED": "1",
            **options.extra_env,
        }

    # lifecycle
    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self._database(create=True)
        self.manage("migrate", "--noinput", "-v", "0")
        o = self.options
        self._spawn("web", [PY, "-m", "gunicorn", "backend.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
                            "--workers", str(o.web_workers), "--threads", str(o.web_threads),
                            "--timeout", "60", "--access-logfile", "-"])
        self._spawn("worker", [PY, "-m", "celery", "-A", "backend", "worker", f"--loglevel={o.log_level}",
                               f"--concurrency={o.worker_processes}",
                               "--queues", f"{self.queue},{self.queue}-inference", "--hostname", f"{self.queue}@%h"])
        if o.beat:
            self._spawn("beat", [PY, "-m", "celery", "-A", "backend", "beat", f"--loglevel={o.log_level}",
                                 "--schedule", str(self.workdir / "celerybeat-schedule")])
        self._wait_ready()
        threading.Thread(target=self._postgres_sampler, daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._redis_cleanup()
        self._database(create=False)

    def _database(self, *, create: bool) -> None:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            if create:
                connection.execute(f'CREATE DATABASE "{self.database}"')

    def _redis_cleanup(self) -> None:
        import redis

        try:
            client = redis.Redis.from_url(f"{REDIS_URL}/{self.options.redis_db}")
            keys = [self.queue, f"_kombu.binding.{self.queue}"] + list(client.scan_iter(f":*{self.queue}*"))
            keys += list(client.scan_iter(f"{self.queue}*"))
            client.delete(*keys)
        except Exception as error:  # cleanup only; never hide the run's own result
            print(f"warning: could not clean Redis: {error!r}", file=sys.stderr)

    def _spawn(self, name: str, command: list[str]) -> None:
        log = self.workdir / f"{name}.log"
        self.logs[name] = log
        env = dict(self.env)
        if self.options.stage_times:  # CPU by stage, per service (profiling/stages.py)
            env[STAGE_TIMES_ENV] = str(self.stage_times_dir(name))
        with open(log, "w") as handle:
            self.processes[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle,
                                                    stderr=subprocess.STDOUT)

    def stage_times_dir(self, name: str) -> Path:
        return self.workdir / "stage-times" / name

    def _wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        web_ok = worker_ok = False
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    tail = self.logs[name].read_text()[-3000:]
                    raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")
            if not web_ok:
                try:
                    with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as response:
                        web_ok = response.status == 200
                except OSError:
                    pass
            worker_ok = worker_ok or " ready." in self.logs["worker"].read_text()
            if web_ok and worker_ok and self._all_children_up():
                return
            time.sleep(0.5)
        raise RuntimeError(f"the stack was not ready within {timeout}s; logs in {self.workdir}")

    def _all_children_up(self) -> bool:
        o = self.options
        return (len(_children(self.processes["web"].pid)) >= o.web_workers
                and len(_children(self.processes["worker"].pid)) >= o.worker_processes)

    def manage(self, *args: str) -> str:
        result = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args[:2])} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    # setup through the services and the public API
    def enrollment_codes(self, patients: int, *, inference_mode: str = "frames") -> list[str]:
        """`patients` consenting patients of one clinician, one fresh enrollment code each; in `frames`
        mode (their phones upload frames) unless told `on_device` (benchmarks/mood_ingest.py)."""
        script = (
            "import json\n"
            "from django.contrib.auth import get_user_model\n"
            "from backend.patients.services import patient_create\n"
            "from backend.devices.services import enrollment_code_issue\n"
            "user = get_user_model().objects.create_user('bench-clinician')\n"
            "codes = []\n"
            f"for i in range({patients}):\n"
            "    p = patient_create(actor=user, reference=f'BENCH-{i:04d}', clinicians=[user], consent=True,\n"
            f"                       inference_mode={inference_mode!r})\n"
            "    codes.append(enrollment_code_issue(patient=p, actor=user)[1])\n"
            "print('CODES ' + json.dumps(codes))\n"
        )
        out = self.manage("shell", "-c", script)
        return json.loads(next(line for line in out.splitlines() if line.startswith("CODES "))[6:])

    def phones(self, patients: int, *, inference_mode: str = "frames") -> list[DeviceApi]:
        """Enroll one phone per patient through POST /api/v1/devices/enroll/."""
        phones = []
        for i, code in enumerate(self.enrollment_codes(patients, inference_mode=inference_mode)):
            token = DeviceApi(self.url).enroll(code=code, label=f"bench phone {i}")["token"]
            phones.append(DeviceApi(self.url, token=token, read_timeout=120))
        return phones

    # observation
    def rss(self) -> dict[str, dict[int, int]]:
        """RSS in KiB of every process of each service: the master and its children."""
        out = {}
        for name, process in self.processes.items():
            pids = [process.pid] + _children(process.pid)
            out[name] = {pid: rss_kib(pid) for pid in pids}
        return out

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each service's processes, and by PostgreSQL for this database."""
        out = {name: sum(cpu_seconds(pid) for pid in [p.pid] + _children(p.pid))
               for name, p in self.processes.items()}
        out["worker_master"] = cpu_seconds(self.processes["worker"].pid)  # part of "worker": Celery's consumer
        out["postgres"] = self._postgres_cpu()
        times = os.times()
        out["load_generator"] = times.user + times.system
        return out

    def _postgres_cpu(self) -> float:
        """CPU seconds of every PostgreSQL backend that served this database, including those that
        closed since (Django reconnects every CONN_MAX_AGE): their last sample counts."""
        with self._pg_lock:
            for pid in postgres_backends(self.database):
                self._pg_cpu[pid] = max(self._pg_cpu.get(pid, 0.0), cpu_seconds(pid))
            return sum(self._pg_cpu.values())

    def _postgres_sampler(self) -> None:
        while not self._stopping.wait(1.0):
            self._postgres_cpu()

    def error_lines(self) -> dict[str, list[str]]:
        found = {}
        for name, log in self.logs.items():
            lines = [line for line in log.read_text(errors="replace").splitlines() if ERROR_LINE.search(line)]
            if lines:
                found[name] = lines
        return found

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes.values())


# --- load -----------------------------------------------------------------------------------------

@dataclass
class Sent:
    batch_id: str
    pool_indexes: list[int]
    started: float  # wall clock (time.time()) of the first attempt
    latency: float  # seconds from the first attempt to the accepting answer
    status: int  # 202, or 200 when a retry found the batch already stored
    retries: int


@dataclass
class LoadResult:
    sent: list[Sent]
    failed: list[str]  # answers that were not an acceptance, with their reason
    started: float
    finished: float
    behind_schedule: int  # open loop: batches sent late because the previous upload was still running


class Load:
    """Phones uploading `batch_size`-frame batches.

    rate=None: closed loop, each phone uploads its next batch as soon as the last one is accepted
    (saturation). With max_backlog=B (and the database's URL) a phone first waits while B batches
    are accepted but not yet processed: the stack then runs at its end-to-end capacity, instead
    of the web accepting uploads faster than the workers can finish them and taking their CPU.
    rate=R: open loop, R frames/s in total, spread evenly over the phones, each on its own fixed
    schedule (phones do not wait for the server); a phone whose previous upload has not returned
    sends as soon as it does, and the lateness is counted.
    """

    def __init__(self, phones: list[DeviceApi], pool: list[PoolFrame], *, batch_size: int,
                 duration: float, rate: float | None = None, max_batches: int | None = None, seed: int = 1,
                 max_backlog: int | None = None, database_url: str | None = None):
        self.phones, self.pool, self.batch_size = phones, pool, batch_size
        self.duration, self.rate, self.max_batches = duration, rate, max_batches
        self.seed = seed
        self.max_backlog, self.database_url = max_backlog, database_url
        self._backlog = 0  # batches queued or processing, as last read from the database
        self._lock = threading.Lock()
        self._sent: list[Sent] = []
        self._failed: list[str] = []
        self._behind = 0
        self._count = 0
        self.started_at = time.time()

    def run(self) -> LoadResult:
        started = self.started_at = time.time()
        self._deadline = time.monotonic() + self.duration
        threads = [threading.Thread(target=self._phone, args=(i, phone), daemon=True)
                   for i, phone in enumerate(self.phones)]
        done = threading.Event()
        if self.max_backlog and not self.rate:
            threading.Thread(target=self._watch_backlog, args=(done,), daemon=True).start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        done.set()
        return LoadResult(self._sent, self._failed, started, time.time(), self._behind)

    def _watch_backlog(self, done: threading.Event) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            while not done.wait(0.05):
                self._backlog = connection.execute(
                    "SELECT count(*) FROM ingest_framebatch WHERE status IN ('queued', 'processing')").fetchone()[0]

    def _wait_for_room(self) -> None:
        while self._backlog >= self.max_backlog and time.monotonic() < self._deadline:
            time.sleep(0.02)

    def _take(self) -> bool:
        with self._lock:
            if self.max_batches is not None and self._count >= self.max_batches:
                return False
            self._count += 1
            return True

    def _phone(self, index: int, phone: DeviceApi) -> None:
        rng = random.Random(self.seed * 100_003 + index)
        period = len(self.phones) * self.batch_size / self.rate if self.rate else 0.0
        next_at = time.monotonic() + (period * index / len(self.phones) if period else 0.0)
        while True:
            if period:
                if next_at >= self._deadline:
                    return
                wait = next_at - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                elif wait < -0.5:
                    with self._lock:
                        self._behind += 1
                next_at += period
            elif self.max_backlog:
                self._wait_for_room()
            if time.monotonic() >= self._deadline or not self._take():
                return
            self._upload(phone, rng)

    def _upload(self, phone: DeviceApi, rng: random.Random) -> None:
        indexes = [rng.randrange(len(self.pool)) for _ in range(self.batch_size)]
        stamps = capture_stamps(self.batch_size)
        batch_id = str(uuid.uuid4())
        jpegs = [self.pool[i].jpeg for i in indexes]
        started_wall, started = time.time(), time.monotonic()
        for attempt in range(6):  # a phone retries the same batch_id on network errors and 5xx
            try:
                result = phone.upload(batch_id=batch_id, jpegs=jpegs, captured_at=stamps)
            except TransientError as error:
                if attempt == 5:
                    self._fail(f"gave up after retries: {error}")
                    return
                time.sleep(error.retry_after or min(8.0, 0.5 * 2 ** attempt))
                continue
            except ApiError as error:
                self._fail(str(error))
                return
            sent = Sent(batch_id, indexes, started_wall, time.monotonic() - started, result.status, attempt)
            with self._lock:
                self._sent.append(sent)
            return

    def _fail(self, reason: str) -> None:
        with self._lock:
            self._failed.append(reason)


# --- checks ---------------------------------------------------------------------------------------

@dataclass
class Verdict:
    batches_accepted: int
    frames_accepted: int
    frames_with_face_expected: int
    records_expected: int
    records_found: int
    records_lost: int
    records_duplicated: int
    batches_not_done: int
    frames_left: int
    batches_frames_not_deleted: int
    batches_unacknowledged: int  # stored, but the phone never saw the acceptance (it gave up)
    last_processed: float | None  # wall clock
    upload_to_records: list[float]  # seconds, per accepted batch that is done
    queue_wait: list[float]  # seconds from the batch's commit (received_at) to its last claim by a worker
    processing: list[float]  # seconds from that claim to records written

    @property
    def ok(self) -> bool:
        return not (self.records_lost or self.records_duplicated or self.batches_not_done or self.frames_left
                    or self.batches_frames_not_deleted)


def wait_processed(database_url: str, batch_ids: list[str], *, timeout: float) -> bool:
    """Wait until none of these batches is queued or processing; False on timeout."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as connection:
        while time.monotonic() < deadline:
            pending = connection.execute(
                "SELECT count(*) FROM ingest_framebatch WHERE status IN ('queued', 'processing')").fetchone()[0]
            stored = connection.execute("SELECT count(*) FROM ingest_framebatch").fetchone()[0]
            if pending == 0 and stored >= len(set(batch_ids)):
                return True
            time.sleep(0.5)
    return False


def verify(database_url: str, sent: list[Sent], pool: list[PoolFrame]) -> Verdict:
    """Compare what the phones had accepted with what the database holds."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        batches = {
            str(batch_id): (pk, status, processed_at, deleted_at, received_at, claimed_at)
            for batch_id, pk, status, processed_at, deleted_at, received_at, claimed_at in connection.execute(
                "SELECT batch_id, id, status, extract(epoch FROM processed_at), frames_deleted_at, "
                "extract(epoch FROM received_at), extract(epoch FROM claimed_at) FROM ingest_framebatch")
        }
        faces_per_frame: dict[tuple[int, int], int] = {}
        key_duplicates = 0
        for batch_pk, frame_index, _face_index, copies in connection.execute(
                "SELECT batch_id, frame_index, face_index, count(*) FROM moods_moodrecord "
                "GROUP BY batch_id, frame_index, face_index"):
            faces_per_frame[(batch_pk, frame_index)] = faces_per_frame.get((batch_pk, frame_index), 0) + 1
            key_duplicates += copies - 1
        records_found = connection.execute("SELECT count(*) FROM moods_moodrecord").fetchone()[0]
        frames_left = connection.execute("SELECT count(*) FROM ingest_frame").fetchone()[0]
    lost = duplicated = not_done = expected_total = with_face = 0
    latencies, queue_wait, processing = [], [], []
    accepted = {s.batch_id: s for s in sent}
    for s in accepted.values():
        # one record per frame with a face: the largest face is the patient's, the others are bystanders
        expected = [min(1, pool[i].faces) for i in s.pool_indexes]
        expected_total += sum(expected)
        with_face += sum(1 for n in expected if n)
        row = batches.get(s.batch_id)
        if row is None or row[1] != "done":
            not_done += 1
            lost += sum(expected)
            continue
        pk, _, processed_at, _, received_at, claimed_at = row
        latencies.append(float(processed_at) - s.started)
        queue_wait.append(float(claimed_at) - float(received_at))
        processing.append(float(processed_at) - float(claimed_at))
        for frame_index, n in enumerate(expected):
            found = faces_per_frame.get((pk, frame_index), 0)
            lost += max(0, n - found)
            duplicated += max(0, found - n)
    processed = [float(r[2]) for r in batches.values() if r[2] is not None]
    return Verdict(
        batches_accepted=len(accepted),
        frames_accepted=sum(len(s.pool_indexes) for s in accepted.values()),
        frames_with_face_expected=with_face,
        records_expected=expected_total,
        records_found=records_found,
        records_lost=lost,
        records_duplicated=duplicated + key_duplicates,
        batches_unacknowledged=len(set(batches) - set(accepted)),
        batches_not_done=not_done,
        frames_left=frames_left,
        batches_frames_not_deleted=sum(1 for r in batches.values() if r[1] == "done" and r[3] is None),
        last_processed=max(processed) if processed else None,
        upload_to_records=latencies,
        queue_wait=queue_wait,
        processing=processing,
    )


def summary(load: LoadResult, verdict: Verdict) -> dict:
    """The figures both scripts print."""
    upload_seconds = max(load.finished - load.started, 1e-9)
    end = verdict.last_processed or load.finished
    uploads = [s.latency for s in load.sent]
    return {
        "batches_accepted": verdict.batches_accepted,
        "frames_accepted": verdict.frames_accepted,
        "upload_failures": len(load.failed),
        "upload_retries": sum(s.retries for s in load.sent),
        "batches_per_s_accepted": round(verdict.batches_accepted / upload_seconds, 2),
        "frames_per_s_accepted": round(verdict.frames_accepted / upload_seconds, 1),
        "frames_per_s_end_to_end": round(verdict.frames_accepted / max(end - load.started, 1e-9), 1),
        "upload_latency_p50_ms": round(percentile(uploads, 50) * 1000, 1),
        "upload_latency_p95_ms": round(percentile(uploads, 95) * 1000, 1),
        "upload_to_records_p50_s": round(percentile(verdict.upload_to_records, 50), 2),
        "upload_to_records_p95_s": round(percentile(verdict.upload_to_records, 95), 2),
        "queue_wait_p50_s": round(percentile(verdict.queue_wait, 50), 2),
        "queue_wait_p95_s": round(percentile(verdict.queue_wait, 95), 2),
        "first_batch_queue_wait_s": round(verdict.queue_wait[0], 2) if verdict.queue_wait else None,
        "processing_p50_s": round(percentile(verdict.processing, 50), 2),
        "processing_p95_s": round(percentile(verdict.processing, 95), 2),
        "upload_seconds": round(upload_seconds, 1),
        "drain_seconds": round(max(0.0, end - load.finished), 1),
        "behind_schedule": load.behind_schedule,
        "frames_with_face": verdict.frames_with_face_expected,
        "records_expected": verdict.records_expected,
        "records_found": verdict.records_found,
        "records_lost": verdict.records_lost,
        "records_duplicated": verdict.records_duplicated,
        "batches_not_done": verdict.batches_not_done,
        "frames_left": verdict.frames_left,
        "batches_with_frames_not_deleted": verdict.batches_frames_not_deleted,
        "batches_unacknowledged": verdict.batches_unacknowledged,
    }


def machine_note() -> dict:
    """What else was using the CPU: load average, and whether a model training job was running."""
    load1, load5, _ = os.getloadavg()
    training = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if b"inference\x00train" in (proc / "cmdline").read_bytes():
                training.append("paused" if _process_state(int(proc.name)) == "T" else "running")
        except OSError:
            pass
    return {"cpus": os.cpu_count(), "loadavg_1m": round(load1, 2), "loadavg_5m": round(load5, 2),
            "training_job": ",".join(training) or "none"}
