"""Device API: upload a frame batch, read a batch's status."""
import uuid

from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from backend.core.errors import error_body
from backend.core.serializers import ErrorSerializer
from backend.devices.authentication import DeviceAuthentication
from backend.devices.permissions import IsDevice, PatientAcceptsUploads
from profiling.stages import stage

from .models import FrameBatch
from .selectors import batch_get_for_device
from .services import batch_ingest
from .uploads import frame_batch_upload_validate


class BatchStatusSerializer(serializers.Serializer):
    batch_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=FrameBatch.Status.choices)
    frames = serializers.IntegerField(source="frame_count")
    frames_with_face = serializers.IntegerField()
    records = serializers.IntegerField(source="record_count")
    error = serializers.CharField(allow_blank=True)


class BatchReplaySerializer(BatchStatusSerializer):
    received_at = serializers.DateTimeField()


@extend_schema_field(OpenApiTypes.BINARY)
class FrameFileField(serializers.FileField):
    """A file part of the multipart body: `format: binary` in the schema, where drf-spectacular's
    default (outside split request components) would say `uri`, a value that is not a file."""


class FrameBatchUploadSerializer(serializers.Serializer):
    """Documentation only: the multipart body is validated by frame_batch_upload_validate."""

    batch_id = serializers.UUIDField()
    frames = serializers.ListField(child=FrameFileField(), min_length=1, help_text="Repeated; JPEG or PNG.")
    captured_at = serializers.ListField(
        child=serializers.DateTimeField(), min_length=1,
        help_text="Repeated; ISO-8601 with offset, one per frame, same order.",
    )


class FrameBatchCreateView(APIView):
    authentication_classes = [DeviceAuthentication]
    permission_classes = [IsDevice, PatientAcceptsUploads]
    parser_classes = [MultiPartParser]
    throttle_classes = [ScopedRateThrottle]  # keyed on the device (request.user.pk)
    throttle_scope = "upload"

    def check_throttles(self, request):
        with stage("upload throttle"):
            super().check_throttles(request)

    @extend_schema(
        request={"multipart/form-data": FrameBatchUploadSerializer},
        responses={
            202: OpenApiResponse(BatchReplaySerializer, description="Accepted: stored and queued"),
            200: OpenApiResponse(BatchReplaySerializer, description="Same batch_id and content again"),
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: OpenApiResponse(ErrorSerializer, description="consent_missing | patient_inactive"),
            409: OpenApiResponse(ErrorSerializer, description="batch_id_conflict"),
            413: OpenApiResponse(ErrorSerializer, description="request_too_large"),
            429: OpenApiResponse(ErrorSerializer, description="throttled | frame_budget_exceeded (see Retry-After)"),
            503: OpenApiResponse(ErrorSerializer, description="service_unavailable (see Retry-After)"),
        },
        summary="Upload a batch of frames (idempotent on batch_id).",
    )
    def post(self, request):
        with stage("multipart parse"):
            data = request.data
        if not isinstance(data, QueryDict):  # no body or no Content-Type: DRF gives a plain dict
            raise UnsupportedMediaType(request.content_type or "(none)", detail="Send multipart/form-data.")
        with stage("validation"):
            upload = frame_batch_upload_validate(
                batch_id=data.get("batch_id"),
                frames=data.getlist("frames"),  # files and any text field of that name
                captured_at=data.getlist("captured_at"),
            )
        with stage("frame storage"):
            batch, created = batch_ingest(device=request.auth, upload=upload)
        # One body for the first answer and every retry, so a phone that lost the 202 sees the same.
        with stage("response"):
            body = BatchReplaySerializer(batch).data
        return Response(body, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


class FrameBatchDetailView(APIView):
    authentication_classes = [DeviceAuthentication]
    permission_classes = [IsDevice]

    @extend_schema(responses={200: BatchStatusSerializer, 401: ErrorSerializer, 404: ErrorSerializer})
    def get(self, request, batch_id):
        try:
            batch = batch_get_for_device(device=request.auth, batch_id=uuid.UUID(batch_id))
        except (ValueError, FrameBatch.DoesNotExist):
            return Response(error_body("not_found", "No such batch for this device."), status=404)
        return Response(BatchStatusSerializer(batch).data)
