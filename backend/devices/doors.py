"""The device API's upload door, defined once: what every upload from a phone shares (a frame batch,
a mood batch, a self-report).

- authentication by device token (`Authorization: Device <token>`);
- an active patient with recorded consent (403 `patient_inactive`, `consent_missing`), and for a
  batch, the patient's inference mode (403 `inference_mode_mismatch`);
- one throttle per device, the `upload` scope, for all three (429 `throttled`);
- the same answers in the OpenAPI schema for these refusals.
"""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from backend.core.serializers import ErrorSerializer
from profiling.stages import stage

from .authentication import DeviceAuthentication
from .permissions import IsDevice, PatientAcceptsUploads, PatientInferenceMode


class DeviceUploadView(APIView):
    """An upload from an enrolled phone of an active, consenting patient."""

    authentication_classes = [DeviceAuthentication]
    permission_classes = [IsDevice, PatientAcceptsUploads]
    throttle_classes = [ScopedRateThrottle]  # keyed on the device (request.user.pk)
    throttle_scope = "upload"  # one rate per device for every kind of upload

    def check_throttles(self, request):
        with stage("upload throttle"):
            super().check_throttles(request)


class BatchUploadView(DeviceUploadView):
    """A batch upload, taken only from a patient whose inference mode is the view's `inference_mode`
    (PatientInferenceMode; the ingest services check again under the patient's lock)."""

    permission_classes = [*DeviceUploadView.permission_classes, PatientInferenceMode]
    inference_mode: str


def device_upload_schema(*, request, answers: dict, summary: str, batch: bool = False):
    """extend_schema for an upload: its own answers (`answers`: status -> serializer or
    OpenApiResponse) and the door's refusals (401, 403 and, unless `answers` names its own, 429)."""
    forbidden = "consent_missing | patient_inactive" + (" | inference_mode_mismatch" if batch else "")
    responses = {
        **answers,
        401: ErrorSerializer,
        403: OpenApiResponse(ErrorSerializer, description=forbidden),
    }
    responses.setdefault(429, OpenApiResponse(ErrorSerializer, description="throttled (see Retry-After)"))
    return extend_schema(request=request, responses=dict(sorted(responses.items())), summary=summary)
