"""OpenAPI description of `Authorization: Device <token>` (imported in DevicesConfig.ready)."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class DeviceAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "backend.devices.authentication.DeviceAuthentication"
    name = "deviceToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Device <token>`, the token returned once by POST /api/v1/devices/enroll/.",
        }
