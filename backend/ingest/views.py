"""Device API: upload a frame batch, read a batch's status."""
import uuid

from django.conf import settings
from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.core.errors import ApplicationError, FieldError, InputInvalid, error_body
from backend.core.parsers import NonFiniteJSONParser
from backend.core.serializers import ErrorSerializer
from backend.devices.authentication import DeviceAuthentication
from backend.devices.doors import BatchUploadView, device_upload_schema
from backend.devices.permissions import IsDevice
from backend.patients.models import InferenceMode
from profiling.stages import stage

from .models import FrameBatch
from .mood_batches import mood_batch_validate
from .selectors import batch_get_for_device, model_versions_published
from .services import batch_ingest, mood_batch_ingest
from .uploads import frame_batch_upload_validate


class BatchCountsSerializer(serializers.Serializer):
    """What a batch's answer says of it, frames or mood records alike."""
    batch_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=FrameBatch.Status.choices)
    frames = serializers.IntegerField(source="frame_count")
    frames_with_face = serializers.IntegerField()
    records = serializers.IntegerField(source="record_count")


class BatchStatusSerializer(BatchCountsSerializer):
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


class FrameBatchCreateView(BatchUploadView):
    inference_mode = InferenceMode.FRAMES
    parser_classes = [MultiPartParser]

    @device_upload_schema(
        request={"multipart/form-data": FrameBatchUploadSerializer},
        answers={
            202: OpenApiResponse(BatchReplaySerializer, description="Accepted: stored and queued"),
            200: OpenApiResponse(BatchReplaySerializer, description="Same batch_id and content again"),
            400: ErrorSerializer,
            409: OpenApiResponse(ErrorSerializer, description="batch_id_conflict"),
            413: OpenApiResponse(ErrorSerializer, description="request_too_large"),
            429: OpenApiResponse(ErrorSerializer, description="throttled | frame_budget_exceeded (see Retry-After)"),
            503: OpenApiResponse(ErrorSerializer, description="service_unavailable (see Retry-After)"),
        },
        summary="Upload a batch of frames (idempotent on batch_id); patients in `frames` mode only.",
        batch=True,
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


# --- mood batches: the records a phone computed (on_device mode) ---------------------------------------

class MoodProbabilitiesSerializer(serializers.Serializer):
    positive = serializers.FloatField(min_value=0, max_value=1)
    negative = serializers.FloatField(min_value=0, max_value=1)
    neutral = serializers.FloatField(min_value=0, max_value=1)
    other = serializers.FloatField(min_value=0, max_value=1)


class MoodFaceSerializer(serializers.Serializer):
    box = serializers.ListField(child=serializers.FloatField(min_value=0), min_length=4, max_length=4,
                                help_text="[x, y, w, h] in pixels of the frame, inside frame_size.")
    detection_score = serializers.FloatField(min_value=0, max_value=1)
    probabilities = MoodProbabilitiesSerializer(help_text="The four moods, summing to 1 within 1e-3.")


class MoodFrameSerializer(serializers.Serializer):
    captured_at = serializers.DateTimeField(help_text="ISO-8601 with offset; unique within the batch.")
    face = MoodFaceSerializer(allow_null=True, help_text="The patient's face (the largest), or null.")
    bystanders = serializers.IntegerField(min_value=0, help_text="Other faces in the frame: counted, never classified.")


class MoodBatchUploadSerializer(serializers.Serializer):
    """Documentation only: the JSON body is validated by mood_batches.mood_batch_validate."""

    batch_id = serializers.UUIDField()
    model_version = serializers.CharField(help_text="The version of GET /api/v1/model/ (the served model).")
    frame_size = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=2, max_length=2,
                                       help_text="[width, height] of the sampled frames, in pixels.")
    frames = serializers.ListField(child=MoodFrameSerializer(), min_length=1,
                                   help_text="One entry per sampled frame, with or without a face.")


class MoodBatchSerializer(BatchCountsSerializer):
    """A mood batch lands `done` in one transaction: it never has an error to report."""


class MoodBatchCreateView(BatchUploadView):
    inference_mode = InferenceMode.ON_DEVICE
    # A probability sent as NaN gets the mood batch's own answer: a validation_error naming its frame's index.
    parser_classes = [NonFiniteJSONParser]

    @device_upload_schema(
        request=MoodBatchUploadSerializer,
        answers={
            201: OpenApiResponse(MoodBatchSerializer, description="Stored: the records have landed"),
            200: OpenApiResponse(MoodBatchSerializer, description="Same batch_id and content again"),
            400: OpenApiResponse(ErrorSerializer, description="validation_error (errors[].index: the frame)"),
            409: OpenApiResponse(ErrorSerializer, description="batch_id_conflict"),
            413: OpenApiResponse(ErrorSerializer, description="request_too_large"),
            429: OpenApiResponse(ErrorSerializer, description="throttled | frame_budget_exceeded (see Retry-After)"),
        },
        summary="Upload mood records computed on the device (idempotent on batch_id); `on_device` patients only.",
        batch=True,
    )
    def post(self, request):
        limit = settings.MOODWATCH["MAX_MOOD_BATCH_BYTES"]
        length = int(request.META.get("CONTENT_LENGTH") or 0)  # the middleware has checked it is a number
        if length > limit:
            raise ApplicationError(f"The body is {length} bytes; a mood batch is at most {limit} bytes.",
                                   code="request_too_large", status_code=413)
        if not request.content_type.startswith("application/json"):
            raise UnsupportedMediaType(request.content_type or "(none)", detail="Send application/json.")
        try:
            data = request.data
        except ParseError as error:
            if getattr(error.detail, "code", None) != "json_too_deep":
                raise
            raise InputInvalid([FieldError("body", "json_too_deep", str(error.detail))]) from None
        batch = mood_batch_validate(data, published_versions=model_versions_published())
        row, created = mood_batch_ingest(device=request.auth, batch=batch)
        body = MoodBatchSerializer(row).data  # the same for the first answer and every retry
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


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
