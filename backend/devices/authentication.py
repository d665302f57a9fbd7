"""`Authorization: Device <token>` for the device API."""
from dataclasses import dataclass

from rest_framework import authentication, exceptions

from backend.core.errors import ApplicationError
from profiling.stages import stage

from .models import Device
from .services import device_authenticate


@dataclass(frozen=True)
class DevicePrincipal:
    """request.user for a device: authenticated, but never a Django user or staff."""

    device: Device
    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    @property
    def pk(self):
        return self.device.pk


class DeviceAuthentication(authentication.BaseAuthentication):
    keyword = "Device"

    def authenticate(self, request):
        with stage("device authentication"):
            return self._authenticate(request)

    def _authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Expected 'Authorization: Device <token>'.", code="authorization_header_invalid"
            )
        try:
            token = parts[1].decode("ascii")
            device = device_authenticate(token=token)
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Unknown device token.", code="device_token_invalid")
        except ApplicationError as error:
            raise exceptions.AuthenticationFailed(error.detail, code=error.code)
        return DevicePrincipal(device), device

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'
