"""The beat schedule, run inside the web process where no Celery beat runs (the embedded default).

`make run` serves with tasks in process and no broker, so nothing would ever evaluate the alert
rules, sweep stuck batches or refresh the rollup. With MOODWATCH_EMBEDDED_SCHEDULER on (demo_run
sets it for its server), one daemon thread runs every entry of settings.CELERY_BEAT_SCHEDULE at its
interval, calling the same task functions beat would enqueue. Run it in one process only: the jobs
are idempotent, but a second copy only wastes work.

With tasks in process, its thread first recovers the batches a killed server left queued or
processing (`batch_recover_at_start`): they are processed again at once, not after the sweeper's
10-minute timeout, and their frames go as soon as they land.
"""
import importlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

FIRST_RUN_DELAY = 5.0  # seconds after start: the server is up, the demo has not finished uploading


@dataclass
class Job:
    name: str
    interval: float
    run: Callable[[], object]
    next_at: float = 0.0


class EmbeddedScheduler:
    def __init__(self, jobs: list[Job], *, clock: Callable[[], float] = time.monotonic,
                 at_start: Job | None = None):
        self.jobs = jobs
        self.clock = clock
        self.at_start = at_start  # run once, first, in the scheduler's thread (never delays the server's start)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        start = clock()
        for job in jobs:
            job.next_at = start + min(FIRST_RUN_DELAY, job.interval)

    def run_due(self) -> list[str]:
        """Run every job whose time has come; a failing job is logged and tried at its next time."""
        ran = []
        for job in self.jobs:
            now = self.clock()
            if job.next_at > now:
                continue
            job.next_at = now + job.interval
            self._run(job)
            ran.append(job.name)
        return ran

    @staticmethod
    def _run(job: Job) -> None:
        try:
            job.run()
        except Exception:  # noqa: BLE001 - one job's fault must not stop the others
            logger.exception("scheduled job %s failed", job.name)
        finally:
            connection.close()  # this thread's connection; the next run opens a fresh one

    def seconds_to_next(self) -> float:
        return max(0.0, min(job.next_at for job in self.jobs) - self.clock()) if self.jobs else 60.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="moodwatch-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        if self.at_start is not None:
            self._run(self.at_start)
        while not self._stop.wait(self.seconds_to_next()):
            self.run_due()


def _task_caller(dotted: str) -> Callable[[], object]:
    """Calls the task named by its dotted path (as beat names it), imported at the first run: this
    may be built while Django is still loading its apps."""
    module, _, name = dotted.rpartition(".")
    return lambda: getattr(importlib.import_module(module), name)()


def jobs_from_beat_schedule(schedule: dict) -> list[Job]:
    """One job per beat entry (schedule in seconds), calling the task's function in this process."""
    return [Job(name=name, interval=float(entry["schedule"]), run=_task_caller(entry["task"]))
            for name, entry in schedule.items()]


def _recovery_at_start() -> Job | None:
    """Only with tasks in process: then no worker elsewhere can be holding a batch."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return None
    return Job(name="recover-batches-at-start", interval=0,
               run=_task_caller("backend.ingest.services.batch_recover_at_start"))


_started: EmbeddedScheduler | None = None
_lock = threading.Lock()


def embedded_scheduler_start() -> EmbeddedScheduler | None:
    """Start the scheduler once per process when settings ask for it; returns it (or None)."""
    global _started
    if not settings.MOODWATCH_EMBEDDED_SCHEDULER:
        return None
    with _lock:
        if _started is None:
            _started = EmbeddedScheduler(jobs_from_beat_schedule(settings.CELERY_BEAT_SCHEDULE),
                                         at_start=_recovery_at_start())
            _started.start()
            logger.info("embedded scheduler started: %s", ", ".join(job.name for job in _started.jobs))
    return _started
