"""device_for_lookup_id: its SQL is built once per process, and it returns exactly what the ORM's
select_related query returns (every field of the device and of its patient), in one query."""
from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from backend.devices.models import Device
from backend.devices.selectors import device_for_lookup_id
from backend.devices.services import device_revoke
from backend.patients.models import Patient


def _fields(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_the_same_device_and_patient_as_the_orm(device, django_assert_num_queries):
    # values of every kind set: an aware time, a revoked_at, a non-default mode and sampling
    Device.objects.filter(pk=device.pk).update(last_seen=timezone.now() - timedelta(minutes=7), label="é phone")
    Patient.objects.filter(pk=device.patient_id).update(inference_mode="frames", sampling_seconds=17)
    device_revoke(device=device, actor=None)
    expected = Device.objects.select_related("patient").get(token_lookup_id=device.token_lookup_id)
    with django_assert_num_queries(1):  # the patient comes with the device, as select_related's did
        found = device_for_lookup_id(lookup_id=device.token_lookup_id)
        assert _fields(found) == _fields(expected)
        assert _fields(found.patient) == _fields(expected.patient)
    assert found.last_seen.tzinfo is not None and found.revoked_at is not None
    assert not found._state.adding and not found.patient._state.adding  # saved rows, as the ORM's
    found.label = "renamed"
    found.save(update_fields=["label"])  # an instance the ORM can save, as any it loaded
    assert Device.objects.get(pk=device.pk).label == "renamed"


def test_an_unknown_lookup_id_is_none(device):
    assert device_for_lookup_id(lookup_id="0123456789ab") is None
    assert device_for_lookup_id(lookup_id=device.token_lookup_id + "x") is None
    assert device_for_lookup_id(lookup_id="' OR 1=1 --") is None  # a parameter, never SQL text


def test_a_token_with_a_nul_or_non_ascii_lookup_id_is_a_401(device):
    # PostgreSQL refuses NUL in a text parameter: a 12-character id with one was a DataError, a 500.
    for token in ("abc\x00defghijk.secret", "abc\x00" + device.token[4:], "éééééééééééé." + "x" * 20):
        assert len(token.partition(".")[0]) == 12  # the id's length: it reaches the look-up
        answer = APIClient().get("/api/v1/model/", HTTP_AUTHORIZATION=f"Device {token}")
        assert answer.status_code == 401, (token, answer.status_code)
