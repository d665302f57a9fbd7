"""The simulator's on-disk queue, saved token and retry policy (no server needed)."""
import os
import stat
from datetime import UTC, datetime, timedelta

import pytest

from clients.simulator.api import ApiError, TransientError, UploadResult
from clients.simulator.frames import Frame
from clients.simulator.store import DeviceCredentials, StateStore
from clients.simulator.uploader import Backoff, Summary, drain

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def frames(n: int) -> list[Frame]:
    return [Frame(b"\xff\xd8jpeg%d" % i, T0 + timedelta(seconds=i)) for i in range(n)]


class ScriptedApi:
    """Answers uploads from a script of outcomes (an exception to raise or a status), recording calls."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = []

    def upload(self, *, batch_id, jpegs, captured_at):
        self.calls.append((batch_id, list(jpegs), list(captured_at)))
        outcome = self.outcomes.pop(0) if self.outcomes else 202
        if isinstance(outcome, Exception):
            raise outcome
        return UploadResult(outcome, {"batch_id": batch_id})


def test_a_queued_batch_survives_a_restart_with_its_frames_timestamps_and_batch_id(tmp_path):
    queued = StateStore(tmp_path).enqueue(frames(3), source="test")
    [again] = StateStore(tmp_path).pending()  # a new process reading the same folder
    assert again.batch_id == queued.batch_id
    assert again.captured_at == [f.captured_at.isoformat() for f in frames(3)]
    assert [p.read_bytes() for p in again.frame_files()] == [f.jpeg for f in frames(3)]


def test_batches_are_sent_oldest_first_and_leave_the_queue_only_when_accepted(tmp_path):
    store = StateStore(tmp_path)
    ids = [store.enqueue(frames(2), source="s").batch_id for _ in range(3)]
    api = ScriptedApi(202, 200, 202)
    summary = Summary()
    drain(api, store, Backoff(base=0), summary, sleep=lambda s: None, log=lambda m: None)
    assert [c[0] for c in api.calls] == ids
    assert store.pending() == []
    assert (summary.batches_sent, summary.batches_replayed, summary.frames_sent) == (3, 1, 6)


def test_network_errors_and_5xx_are_retried_with_the_same_batch_id_and_growing_waits(tmp_path):
    store = StateStore(tmp_path)
    batch = store.enqueue(frames(2), source="s")
    api = ScriptedApi(TransientError("network error"), TransientError("HTTP 503"), TransientError("HTTP 502"), 202)
    waits, summary = [], Summary()
    drain(api, store, Backoff(base=1, cap=60), summary, sleep=waits.append, log=lambda m: None)
    assert {c[0] for c in api.calls} == {batch.batch_id} and len(api.calls) == 4
    assert all(c[1:] == api.calls[0][1:] for c in api.calls), "the very same frames and timestamps"
    assert 0.5 <= waits[0] <= 1 and 1 <= waits[1] <= 2 and 2 <= waits[2] <= 4
    assert (summary.batches_sent, summary.batches_retried, summary.retries) == (1, 1, 3)


def test_a_retry_after_header_is_honoured(tmp_path):
    store = StateStore(tmp_path)
    store.enqueue(frames(1), source="s")
    waits = []
    drain(ScriptedApi(TransientError("HTTP 429", retry_after=30), 202), store, Backoff(base=0.1), Summary(),
          sleep=waits.append, log=lambda m: None)
    assert waits == [30]


def test_when_the_network_stays_down_the_batches_stay_queued_for_the_next_run(tmp_path):
    store = StateStore(tmp_path)
    for _ in range(2):
        store.enqueue(frames(1), source="s")
    summary = Summary()
    drain(ScriptedApi(*[TransientError("down")] * 3), store, Backoff(base=0, attempts=3), summary,
          sleep=lambda s: None, log=lambda m: None)
    assert len(store.pending()) == 2
    assert summary.batches_left_queued == 2 and not summary.ok


def test_a_batch_the_server_refuses_is_set_aside_not_retried(tmp_path):
    store = StateStore(tmp_path)
    bad = store.enqueue(frames(1), source="s")
    good = store.enqueue(frames(1), source="s")
    refusal = ApiError(400, {"code": "validation_error", "detail": "captured_at: too old"})
    api, summary = ScriptedApi(refusal, 202), Summary()
    drain(api, store, Backoff(base=0), summary, sleep=lambda s: None, log=lambda m: None)
    assert [c[0] for c in api.calls] == [bad.batch_id, good.batch_id]
    assert store.pending() == []
    assert (tmp_path / "rejected" / bad.folder.name / "response.json").exists()
    assert summary.batches_rejected == 1 and not summary.ok


def test_the_saved_token_is_readable_by_its_owner_only(tmp_path):
    store = StateStore(tmp_path)
    store.credentials_save(DeviceCredentials("http://x", "dev", "pat", "secret-token"))
    assert stat.S_IMODE(os.stat(store.device_file).st_mode) == 0o600
    assert StateStore(tmp_path).credentials().token == "secret-token"


@pytest.mark.parametrize("retry", range(12))
def test_backoff_waits_double_up_to_the_cap(retry):
    wait = Backoff(base=1, cap=60).delay(retry)
    ceiling = min(60, 2 ** retry)
    assert ceiling / 2 <= wait <= ceiling


def test_enrollment_is_retried_through_transient_failures_but_not_past_the_limit():
    from clients.simulator.uploader import retrying

    answers = [TransientError("HTTP 503"), TransientError("HTTP 429", retry_after=2), {"token": "t"}]

    def enroll():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    waits = []
    assert retrying(
        enroll, Backoff(base=0.1), what="enrollment", sleep=waits.append, log=lambda m: None
    ) == {"token": "t"}
    assert len(waits) == 2 and waits[1] == 2
    with pytest.raises(TransientError):
        retrying(lambda: (_ for _ in ()).throw(TransientError("down")), Backoff(base=0, attempts=3),
                 what="enrollment", sleep=lambda s: None, log=lambda m: None)
