"""Property-based: a valid mood batch, self-report or inference-mode PATCH with any of its values (or
keys) replaced by a hostile JSON value never gets a 5xx; every refusal is the JSON error body, and a
refused mood batch or self-report stores nothing."""
import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from backend.ingest.models import FrameBatch
from backend.moods.models import MoodRecord, SelfReport
from inference import MoodEstimator
from tests.backend.conftest import client_with_device_token
from tests.backend.factories import DeviceFactory, PatientFactory

from .fuzzing import EDGE_STRINGS, FUZZ, RequestCounter
from .test_fuzz_api import assert_well_formed

pytestmark = pytest.mark.django_db

VERSION = MoodEstimator.load().version

# JSON values a hostile client sends in place of any other: edge numbers (the parser reads NaN and
# Infinity for mood batches), huge and negative ints, bools, nulls, edge strings (NUL, surrogates,
# 300 characters), and containers of the wrong shape.
EDGE_VALUES = [0, -1, 1, 2, 10**30, -(10**30), 2**63, 0.5, -0.0, 1e308, 5e-324, float("nan"), float("inf"),
               True, False, None, "\ud800", "a\x00b", "x" * 300, [], {}, [[[[]]]]]
HOSTILE_KEYS = ["\ud800", "\udfff\ud800", "a\x00b", "x" * 300, "image", "", "__proto__"]
scalars = st.one_of(st.sampled_from(EDGE_STRINGS), st.floats(), st.integers(), st.text(max_size=20))
hostile_json = st.one_of(  # half of the draws from the edge values themselves
    st.sampled_from(EDGE_VALUES),
    st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.text(max_size=5) | st.sampled_from(HOSTILE_KEYS), inner, max_size=3), max_leaves=6),
)
replacements = st.one_of(hostile_json, st.sampled_from(HOSTILE_KEYS))


def paths_of(value, prefix=()):
    """Every path to a value inside `value` (dict keys and list indexes)."""
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from paths_of(child, (*prefix, key))


def mutated(value, path, replacement, *, as_key: bool):
    """`value` with the item at `path` replaced, or (as_key) a key `replacement` added beside it."""
    if not path:
        return replacement
    copy = json.loads(json.dumps(value))
    parent = copy
    for step in path[:-1]:
        parent = parent[step]
    if as_key and isinstance(parent, dict) and isinstance(replacement, str):
        parent[replacement] = 1
    else:
        parent[path[-1]] = replacement
    return copy


def moment(seconds_ago: float) -> str:
    return (timezone.now() - timedelta(seconds=seconds_ago)).astimezone().isoformat()


def mood_batch() -> dict:
    face = {"box": [212, 96, 180, 204], "detection_score": 0.93,
            "probabilities": {"positive": 0.71, "negative": 0.12, "neutral": 0.15, "other": 0.02}}
    return {"batch_id": str(uuid.uuid4()), "model_version": VERSION, "frame_size": [640, 480],
            "frames": [{"captured_at": moment(120), "face": face, "bystanders": 0},
                       {"captured_at": moment(115), "face": None, "bystanders": 1}]}


def self_report() -> dict:
    return {"report_id": str(uuid.uuid4()), "reported_at": moment(60), "mood": "positive"}


def send(client, method, path, body):
    raw = json.dumps(body, allow_nan=True)  # NaN and Infinity as literals, \ud800 as its escape
    return RequestCounter.send(client.generic, method, path, raw, content_type="application/json")


@pytest.fixture
def phone(clinician):
    patient = PatientFactory(reference="P-FUZZ", clinicians=[clinician], inference_mode="on_device")
    client = client_with_device_token(DeviceFactory(patient=patient).token)
    client.raise_request_exception = False
    return client


def stored() -> tuple:
    return FrameBatch.objects.count(), MoodRecord.objects.count(), SelfReport.objects.count()


def post_with_one_value_replaced(phone, data, url: str, body: dict, replacement, as_key: bool) -> None:
    """POST `body` with one drawn value (or key) replaced: a well-formed answer, and nothing stored if refused."""
    path = data.draw(st.sampled_from(list(paths_of(body))))
    before = stored()
    response = send(phone, "POST", url, mutated(body, path, replacement, as_key=as_key))
    assert_well_formed(response, f"{url} {path}")
    if response.status_code >= 400:
        assert stored() == before, f"a refused POST to {url} stored something"


@FUZZ
@given(data=st.data(), replacement=replacements, as_key=st.booleans())
def test_a_mood_batch_with_any_value_replaced(phone, data, replacement, as_key):
    post_with_one_value_replaced(phone, data, "/api/v1/mood-batches/", mood_batch(), replacement, as_key)


@FUZZ
@given(data=st.data(), replacement=replacements, as_key=st.booleans())
def test_a_self_report_with_any_value_replaced(phone, data, replacement, as_key):
    post_with_one_value_replaced(phone, data, "/api/v1/self-reports/", self_report(), replacement, as_key)


@FUZZ
@given(replacement=replacements, as_key=st.booleans())
def test_the_inference_mode_patch_with_any_value(clinician, replacement, as_key):
    patient = PatientFactory(clinicians=[clinician], inference_mode="on_device")
    api = APIClient(raise_request_exception=False)
    api.force_authenticate(clinician)
    body = mutated({"inference_mode": "frames"}, ("inference_mode",), replacement, as_key=as_key)
    response = send(api, "PATCH", f"/api/v1/patients/{patient.pk}/", body)
    assert_well_formed(response, "patients PATCH")
