"""CPU time by pipeline stage, for profiling a running server (off unless switched on).

    from profiling.stages import stage
    with stage("decode"):
        ...

When the environment variable MOODWATCH_STAGE_TIMES_DIR names a folder, each process adds the
CPU time of its thread (time.thread_time) spent inside each named stage, exclusive of the stages
nested in it. A background thread rewrites <folder>/<pid>.json every half second while the totals
change: {"stage": [cpu_seconds, calls], ...}, cumulative since the process started.
`benchmarks/ingest.py --profile` reads those files before and after a load phase. Without the
variable, `stage` is a no-op costing one environment lookup.

Why CPU time and not a sampling profiler's share: at saturation every process is runnable most of
the time, and a sampler counts a process that waits for a core as busy where it woke up (after a
database reply, say), which inflates the stages that wait. thread_time counts only the work.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

logger = logging.getLogger(__name__)

ENV = "MOODWATCH_STAGE_TIMES_DIR"
WRITE_EVERY_S = 0.5


class _Recorder:
    def __init__(self, folder: Path):
        self.folder = folder
        self.totals: dict[str, list[float]] = {}
        self.local = threading.local()
        self.lock = threading.Lock()
        self.dirty = False
        folder.mkdir(parents=True, exist_ok=True)
        threading.Thread(target=self._writer, name="stage-times", daemon=True).start()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        stack = self.local.__dict__.setdefault("stack", [])
        frame = [time.thread_time(), 0.0]  # start, CPU of nested stages
        stack.append(frame)
        try:
            yield
        finally:
            stack.pop()
            elapsed = time.thread_time() - frame[0]
            if stack:
                stack[-1][1] += elapsed
            with self.lock:
                entry = self.totals.setdefault(name, [0.0, 0])
                entry[0] += elapsed - frame[1]
                entry[1] += 1
                self.dirty = True

    def _writer(self) -> None:
        target = self.folder / f"{os.getpid()}.json"
        while True:
            time.sleep(WRITE_EVERY_S)
            with self.lock:
                if not self.dirty:
                    continue
                body, self.dirty = json.dumps(self.totals), False
            partial = target.with_suffix(".tmp")
            partial.write_text(body)
            partial.replace(target)  # readers never see half a file


_recorder: _Recorder | None = None
_recorder_pid: int | None = None
_unusable: str | None = None  # a folder that could not be created: not tried again


def _get() -> _Recorder | None:
    global _recorder, _recorder_pid, _unusable
    folder = os.environ.get(ENV)
    if not folder or _unusable == folder:
        return None
    if _recorder is None or _recorder_pid != os.getpid():  # a forked child starts its own totals
        try:
            _recorder, _recorder_pid = _Recorder(Path(folder)), os.getpid()
        except OSError as error:  # profiling must never fail the work it measures
            logger.warning("stage times are off: %s=%r cannot be used (%s)", ENV, folder, error)
            _unusable = folder
            return None
    return _recorder


def stage(name: str):
    """Context manager: count the enclosed work's CPU time under `name` (when profiling is on)."""
    recorder = _get()
    return recorder.stage(name) if recorder is not None else nullcontext()


def read_totals(folder: str | os.PathLike) -> dict[str, list[float]]:
    """Sum of every process's totals in `folder`: {"stage": [cpu_seconds, calls]}."""
    summed: dict[str, list[float]] = {}
    for path in Path(folder).glob("*.json"):
        try:
            totals = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for name, (seconds, calls) in totals.items():
            entry = summed.setdefault(name, [0.0, 0])
            entry[0] += seconds
            entry[1] += calls
    return summed
