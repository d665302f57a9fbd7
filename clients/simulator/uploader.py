"""Drain the on-disk queue with exponential backoff, then poll the batches until processed."""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .api import ApiError, DeviceApi, TransientError
from .store import QueuedBatch, StateStore

# A device that is not (or no longer) allowed to upload: stop, keep the queue for later.
FATAL_STATUSES = {401, 403}


@dataclass
class Backoff:
    base: float = 1.0  # seconds before the first retry
    cap: float = 60.0  # longest wait between two tries
    attempts: int = 8  # tries per batch in one run, the first included

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Full jitter: a random wait up to base x 2^retry (capped), so devices do not retry in step."""
        ceiling = min(self.cap, self.base * 2 ** retry)
        wait = random.uniform(ceiling / 2, ceiling)
        return max(wait, retry_after or 0.0)


@dataclass
class Summary:
    batches_sent: int = 0  # accepted by the server in this run (202, or 200 = it already had them)
    batches_replayed: int = 0  # of those, answered 200: the server had the batch already
    batches_retried: int = 0  # batches that needed more than one try
    retries: int = 0  # extra tries, all batches together
    batches_rejected: int = 0  # refused for good (4xx); kept under STATE/rejected
    batches_left_queued: int = 0  # still queued (server unreachable); sent on the next run
    frames_sent: int = 0  # frames uploaded (frames mode)
    moods_sent: int = 0  # frame entries of mood batches (on-device mode: no frame leaves the "phone")
    batches_done: int = 0
    batches_failed: int = 0
    batches_unfinished: int = 0  # not processed before the poll timeout
    frames_with_face: int = 0
    records_created: int = 0
    upload_started_at: float | None = None  # epoch seconds of the first upload attempt
    upload_seconds: float = 0.0  # from the first upload attempt until the queue was drained
    sent_batch_ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.batches_rejected or self.batches_left_queued or self.batches_failed
                    or self.batches_unfinished or self.errors)


class FatalApiError(Exception):
    pass


def retrying(call: Callable, backoff: Backoff, *, what: str, sleep: Callable[[float], None] = time.sleep,
             log: Callable[[str], None] = print):
    """call(), retried on transient failures (network, 5xx, 408, 429) with backoff; the last failure is raised."""
    for attempt in range(backoff.attempts):
        try:
            return call()
        except TransientError as error:
            if attempt + 1 == backoff.attempts:
                raise
            wait = backoff.delay(attempt, error.retry_after)
            log(f"{what}: {error}; retrying in {wait:.1f}s")
            sleep(wait)


def send_batch(api: DeviceApi, store: StateStore, batch: QueuedBatch, backoff: Backoff, summary: Summary,
               *, sleep: Callable[[float], None] = time.sleep, log: Callable[[str], None] = print) -> bool:
    """Upload one queued batch, retrying transient failures with the same batch_id. True when accepted.

    A mood batch (on-device mode) lands at once: its answer already says what the server stored."""
    jpegs = [] if batch.mood_batch is not None else [path.read_bytes() for path in batch.frame_files()]
    for attempt in range(backoff.attempts):
        try:
            if batch.mood_batch is not None:
                result = api.upload_moods(batch.mood_batch)
            else:
                result = api.upload(batch_id=batch.batch_id, jpegs=jpegs, captured_at=batch.captured_at)
        except TransientError as error:
            if attempt + 1 == backoff.attempts:
                log(f"batch {batch.batch_id}: giving up for now after {backoff.attempts} tries ({error}); "
                    "it stays queued")
                return False
            wait = backoff.delay(attempt, error.retry_after)
            log(f"batch {batch.batch_id}: {error}; retrying in {wait:.1f}s with the same batch_id")
            if attempt == 0:
                summary.batches_retried += 1
            summary.retries += 1
            sleep(wait)
            continue
        except ApiError as error:
            if error.status in FATAL_STATUSES:
                raise FatalApiError(str(error)) from error
            where = store.reject(batch, status=error.status, body=str(error.body))
            log(f"batch {batch.batch_id}: refused, {error}; kept in {where}")
            summary.batches_rejected += 1
            summary.errors.append(f"{batch.batch_id}: {error}")
            return True  # handled: out of the queue, never retried
        store.remove(batch)
        summary.batches_sent += 1
        summary.batches_replayed += result.status == 200
        if batch.mood_batch is not None:
            summary.moods_sent += len(batch.captured_at)
            summary.batches_done += 1
            summary.records_created += result.body["records"]
            summary.frames_with_face += result.body["frames_with_face"]
        else:
            summary.frames_sent += len(jpegs)
            summary.sent_batch_ids.append(batch.batch_id)  # polled until processed
        return True
    return False


def drain(api: DeviceApi, store: StateStore, backoff: Backoff, summary: Summary, *, progress=None,
          sleep: Callable[[float], None] = time.sleep, log: Callable[[str], None] = print) -> None:
    """Send every queued batch, oldest first. Stops at the first batch the network will not take."""
    pending = store.pending()
    summary.upload_started_at, started = time.time(), time.monotonic()
    try:
        for i, batch in enumerate(pending):
            accepted = send_batch(api, store, batch, backoff, summary, sleep=sleep, log=log)
            if not accepted:
                summary.batches_left_queued = len(pending) - i
                return
            if progress is not None:
                progress.update(len(batch.captured_at))
    finally:
        summary.upload_seconds = round(time.monotonic() - started, 3)


def poll(api: DeviceApi, summary: Summary, *, timeout: float, interval: float = 1.0,
         sleep: Callable[[float], None] = time.sleep) -> None:
    """Wait until every batch sent in this run is done or failed (or the timeout passes); add up records."""
    waiting = list(summary.sent_batch_ids)
    deadline = time.monotonic() + timeout
    while waiting:
        still = []
        for batch_id in waiting:
            try:
                state = api.batch_status(batch_id)
            except TransientError:
                still.append(batch_id)
                continue
            if state["status"] == "done":
                summary.batches_done += 1
                summary.records_created += state["records"]
                summary.frames_with_face += state["frames_with_face"]
            elif state["status"] == "failed":
                summary.batches_failed += 1
                summary.errors.append(f"{batch_id}: processing failed: {state.get('error', '')}")
            else:
                still.append(batch_id)
        waiting = still
        if waiting and time.monotonic() >= deadline:
            summary.batches_unfinished = len(waiting)
            return
        if waiting:
            sleep(interval)
