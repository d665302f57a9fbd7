"""device_authenticate: constant-time digest check, revocation, throttled last_seen."""
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.core.errors import ApplicationError
from backend.devices.models import Device
from backend.devices.services import device_authenticate, device_revoke


def test_a_devices_own_token_authenticates_it(device):
    assert device_authenticate(token=device.token) == device


def test_the_token_is_never_stored_in_clear(device):
    row = Device.objects.filter(pk=device.pk).values().get()
    assert device.token not in {str(v) for v in row.values()}


@pytest.mark.parametrize("token", ["", "no-dot", "short.secret", "0123456789ab.", "0123456789ab.wrong"])
def test_malformed_or_unknown_tokens_are_refused(db, token):
    with pytest.raises(ApplicationError) as raised:
        device_authenticate(token=token)
    assert raised.value.status_code == 401 and raised.value.code == "device_token_invalid"


def test_a_revoked_device_is_refused(device):
    device_revoke(device=device, actor=None)
    with pytest.raises(ApplicationError) as raised:
        device_authenticate(token=device.token)
    assert raised.value.code == "device_revoked"


def test_last_seen_is_written_at_most_once_per_resolution(device, django_assert_num_queries):
    Device.objects.filter(pk=device.pk).update(last_seen=timezone.now() - timedelta(hours=1))
    with django_assert_num_queries(2):  # read + last_seen update
        device_authenticate(token=device.token)
    with django_assert_num_queries(1):  # read only
        device_authenticate(token=device.token)
