"""The shortcuts that make mood-batch ingest fast (docs/performance.md, "Mood-batch ingest") change
nothing that a phone can observe:

- the flat first check of each entry (`_frame_accept`) accepts exactly what the rule-by-rule check
  accepts, with the same values, on every adversarial variant of an entry below;
- a batch costs the same number of queries whatever its number of entries;
- the roll-up of a mood batch commits with its records (no second transaction after the commit);
- a new batch is inserted without a look-up first, and a retry still answers 200, even once the
  device's frame budget is spent.
"""
import copy
import json
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.core.errors import InputInvalid
from backend.ingest import mood_batches
from backend.ingest.models import FrameBatch
from backend.ingest.mood_batches import mood_batch_validate
from backend.moods.models import MoodRecord
from backend.rollups.models import MoodSlotCount, RolledUpBatch, UploadSlotCount
from inference import MoodEstimator
from tests.backend.conftest import client_with_device_token
from tests.backend.factories import DeviceFactory, PatientFactory

URL = "/api/v1/mood-batches/"
VERSION = MoodEstimator.load().version
NOW = timezone.now()
NAN, INF = float("nan"), float("inf")


def entry(seconds_ago: float = 60) -> dict:
    return {
        "captured_at": (NOW - timedelta(seconds=seconds_ago)).astimezone().isoformat(),
        "face": {"box": [100, 80, 120, 140], "detection_score": 0.93,
                 "probabilities": {"positive": 0.7, "negative": 0.1, "neutral": 0.1, "other": 0.1}},
        "bystanders": 0,
    }


def body(entries: list) -> dict:
    return {"batch_id": str(uuid.uuid4()), "model_version": VERSION, "frame_size": [640, 480], "frames": entries}


def at(path: str, value):
    """A change: set `path` (dotted, in one entry) to `value`; `...` deletes the key."""
    def change(item: dict) -> None:
        *parents, last = path.split(".")
        target = item
        for key in parents:
            target = target[key]
        if value is ...:
            del target[last]
        else:
            target[last] = copy.deepcopy(value)
    return change


def whole(value):
    return lambda item: ("replace", value)


ISO = (NOW - timedelta(seconds=30)).astimezone()
CHANGES = [
    # the capture time: types, offsets, the calendar window, the age and skew limits, odd characters
    *(at("captured_at", v) for v in [None, 5, True, "", "   ", "not a time", ISO.replace(tzinfo=None).isoformat(),
                                     " " + ISO.isoformat() + " ", ISO.isoformat().replace("+", "\x00+"),
                                     "２０２６-12-05T09:15:02+01:00", "0001-01-01T00:00:00+14:00",
                                     "9999-12-31T23:59:59-14:00", (NOW + timedelta(minutes=4)).isoformat(),
                                     (NOW + timedelta(minutes=6)).isoformat(), (NOW - timedelta(days=6)).isoformat(),
                                     (NOW - timedelta(days=8)).isoformat(), ISO.astimezone().isoformat()[:-6] + "Z",
                                     # offsets PostgreSQL refuses (not whole minutes): found by probing
                                     ISO.isoformat()[:-6] + "+01:00:00.5", ISO.isoformat()[:-6] + "+01:00:30"]),
    # bystanders
    *(at("bystanders", v) for v in [-1, 0, 100, 101, True, False, 1.0, "1", None, 10 ** 30, ...]),
    # the face and the entry's own shape
    *(at("face", v) for v in [None, [], "face", {}, 0, ...]),
    at("face.extra", 1), at("extra", 1), whole([1, 2]), whole(None), whole("entry"),
    *(at(f"face.{key}", ...) for key in ("box", "detection_score", "probabilities")),
    # the box: types, non-finite values, the frame's edges
    *(at("face.box", v) for v in [[], [1, 2, 3], [1, 2, 3, 4, 5], [True, 0, 10, 10], ["1", 0, 10, 10],
                                  [NAN, 0, 10, 10], [0, 0, INF, 10], [-INF, 0, 10, 10], [-0.0, 0, 10, 10],
                                  [0, 0, 0, 10], [-1, 0, 10, 10], [0, 0, 640, 480], [0, 0, 640.0000001, 480],
                                  [10 ** 400, 0, 10, 10], [1e308, 1e308, 1e308, 1e308], [0.4, 0.6, 9.5, 10.5],
                                  [[1], 0, 10, 10], {"x": 1},
                                  # boxes checked in whole pixels, as stored: found by probing
                                  [0.4, 0.4, 0.2, 0.2], [1.5, 0, 638.5, 10], [-0.4, 0, 10, 10], [639.4, 0, 0.6, 10],
                                  [0, 0, 1e10, 10]]),
    # the detection score
    *(at("face.detection_score", v) for v in [True, -0.0, 0, 1, 1.0000001, -1e-12, NAN, INF, "0.5", None, 10 ** 400]),
    # the probabilities: moods, types, ranges, the sum and its tolerance
    *(at("face.probabilities", v) for v in [
        {}, [0.25] * 4, {"positive": 1.0, "negative": 0.0, "neutral": 0.0},
        {"positive": 0.7, "negative": 0.1, "neutral": 0.1, "other": 0.1, "happy": 0.0},
        {"positive": 0.7, "negative": 0.1, "neutral": 0.1, "others": 0.1},
        {"positive": 1, "negative": 0, "neutral": 0, "other": 0},
        {"positive": True, "negative": False, "neutral": False, "other": False},
        {"positive": NAN, "negative": 0.1, "neutral": 0.1, "other": 0.1},
        {"positive": INF, "negative": 0.1, "neutral": 0.1, "other": 0.1},
        {"positive": 1.2, "negative": -0.2, "neutral": 0.0, "other": 0.0},
        {"positive": 0.7011, "negative": 0.1, "neutral": 0.1, "other": 0.1},
        {"positive": 0.7009, "negative": 0.1, "neutral": 0.1, "other": 0.1},
        {"positive": 0.6991, "negative": 0.1, "neutral": 0.1, "other": 0.1},
        {"positive": 0.25, "negative": 0.25, "neutral": 0.25, "other": 0.25},
        {"positive": "0.7", "negative": 0.1, "neutral": 0.1, "other": 0.1},
        {"positive": 10 ** 400, "negative": 0.1, "neutral": 0.1, "other": 0.1},
        {"positive": [0.7], "negative": 0.1, "neutral": 0.1, "other": 0.1},
    ]),
]


def changed(change) -> object:
    item = entry(45)
    outcome = change(item)
    return outcome[1] if isinstance(outcome, tuple) else item


def validated(data: dict) -> object:
    """mood_batch_validate's answer as a comparable value: the batch, or the errors' dicts."""
    try:
        return mood_batch_validate(copy.deepcopy(data), published_versions={VERSION})
    except InputInvalid as error:
        return [e.as_dict() for e in error.errors]


@pytest.fixture
def fixed_now(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


@pytest.mark.parametrize("change", CHANGES)
def test_the_first_check_accepts_exactly_what_the_full_check_accepts(change, fixed_now, monkeypatch):
    data = body([entry(90), changed(change), entry(20)])  # the variant between two valid entries
    fast = validated(data)
    monkeypatch.setattr(mood_batches, "_frame_accept", lambda *args: None)  # every entry through `_frame`
    assert validated(data) == fast


def test_the_first_check_takes_every_entry_of_a_valid_batch(fixed_now, monkeypatch):
    """Else the shortcut would be dead code, and the speed it buys a measurement artefact."""
    calls = []
    full = mood_batches._frame
    monkeypatch.setattr(mood_batches, "_frame", lambda *args: calls.append(args) or full(*args))
    entries = [entry(60 - i) for i in range(60)]
    entries[7]["face"] = None
    entries[9]["face"]["box"] = [0.5, 0, 639.5, 480]
    entries[11]["face"]["probabilities"] = {"positive": 1, "negative": 0, "neutral": 0, "other": 0}
    batch = mood_batch_validate(body(entries), published_versions={VERSION})
    assert len(batch.frames) == 60 and calls == []


# --- the landing ----------------------------------------------------------------------------------------

@pytest.fixture
def phone(clinician):
    patient = PatientFactory(reference="P-FAST", clinicians=[clinician], inference_mode="on_device")
    return DeviceFactory(patient=patient)


def post(client, data: dict):
    return client.post(URL, json.dumps(data), content_type="application/json")


def batch_of(n: int, *, start: int = 3000) -> dict:
    return body([entry(start - i) for i in range(n)])


def test_a_batch_costs_the_same_queries_whatever_its_number_of_entries(phone, settings):
    settings.MOODWATCH = {**settings.MOODWATCH, "MAX_FRAMES_PER_BATCH": 60}
    client = client_with_device_token(phone.token)
    assert post(client, batch_of(1, start=6000)).status_code == 201  # the device's last_seen is now fresh
    counts = []
    for n, start in ((1, 5000), (60, 4000)):
        with CaptureQueriesContext(connection) as queries:
            assert post(client, batch_of(n, start=start)).status_code == 201
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the rollup is PostgreSQL's")
def test_the_roll_up_commits_with_the_records_not_after(phone, django_capture_on_commit_callbacks):
    client = client_with_device_token(phone.token)
    with django_capture_on_commit_callbacks(execute=False):  # nothing after the commit runs
        assert post(client, batch_of(5)).status_code == 201
    batch = FrameBatch.objects.get()
    assert RolledUpBatch.objects.filter(batch=batch).exists()
    moods = MoodSlotCount.objects.filter(patient=phone.patient)
    assert sum(row.positive for row in moods) == MoodRecord.objects.count() == 5
    assert UploadSlotCount.objects.get(patient=phone.patient).frames == 5


def test_a_retry_answers_200_without_counting_again_even_once_the_budget_is_spent(phone, settings):
    settings.MOODWATCH = {**settings.MOODWATCH, "DEVICE_FRAME_BUDGET_PER_HOUR": 5}
    client = client_with_device_token(phone.token)
    data = batch_of(5)
    first = post(client, data)
    assert first.status_code == 201
    retry = post(client, data)
    assert (retry.status_code, retry.json()) == (200, first.json())
    other = post(client, batch_of(1, start=100))
    assert other.status_code == 429 and other.json()["code"] == "frame_budget_exceeded"
    assert FrameBatch.objects.count() == 1 and MoodRecord.objects.count() == 5


def test_a_retry_with_other_content_is_still_a_409_and_changes_nothing(phone):
    client = client_with_device_token(phone.token)
    data = batch_of(3)
    assert post(client, data).status_code == 201
    data["frames"][0]["bystanders"] = 4
    response = post(client, data)
    assert response.status_code == 409 and response.json()["code"] == "batch_id_conflict"
    assert FrameBatch.objects.get().bystanders == 0 and MoodRecord.objects.count() == 3
