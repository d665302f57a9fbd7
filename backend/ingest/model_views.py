"""Device API: the model manifest (GET /api/v1/model/) and the model files it points at."""
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.core.errors import error_body
from backend.core.middleware import PUBLIC_IMMUTABLE
from backend.core.serializers import ErrorSerializer
from backend.devices.authentication import DeviceAuthentication
from backend.devices.permissions import IsDevice
from backend.patients.models import InferenceMode

MODEL_FILE_CONTENT_TYPE = "application/octet-stream"  # a .tflite flatbuffer has no registered media type


class ModelFileSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="Path of the file on this server; it carries the file's SHA-256.")
    sha256 = serializers.CharField()
    bytes = serializers.IntegerField()


class ModelFilesSerializer(serializers.Serializer):
    classifier = ModelFileSerializer(help_text="The mood model, a fixed-batch (1) copy of the served model.")
    detector = ModelFileSerializer(help_text="BlazeFace short-range, the file the server runs.")


class ModelManifestSerializer(serializers.Serializer):
    """Documentation of the manifest (the answer is built by model_manifest_get)."""

    version = serializers.CharField(help_text="The served model's version (send it as model_version).")
    moods = serializers.ListField(child=serializers.CharField(), help_text="The classifier's output order.")
    mode = serializers.ChoiceField(choices=InferenceMode.choices, help_text="This patient's inference mode.")
    sampling_seconds = serializers.FloatField(
        help_text="Seconds between two sampled frames: the patient's own rate, else the clinic's default.")
    files = ModelFilesSerializer()
    frame = serializers.DictField(help_text="min_side: frames smaller than this are refused.")
    detector = serializers.DictField(help_text="BlazeFace pre- and post-processing (inference/detection.py).")
    classifier = serializers.DictField(help_text="Crop and classifier input (inference/estimator.py).")


class ModelManifestView(APIView):
    authentication_classes = [DeviceAuthentication]
    permission_classes = [IsDevice]

    @extend_schema(
        responses={
            200: ModelManifestSerializer,
            401: ErrorSerializer,
            503: OpenApiResponse(ErrorSerializer, description="on_device_model_missing: the served model has no "
                                                              "browser copy (frames mode still works)"),
        },
        summary="The model manifest: version, mode, sampling rate, model files and processing parameters.",
    )
    def get(self, request):
        from .model_manifest import model_manifest_get  # numpy stays out of the web process until asked

        return Response(model_manifest_get(device=request.auth))


class ModelFileView(APIView):
    """A model file by its SHA-256. No device token: the files are the public model weights (no
    patient data), the same bytes for every device, and answered with public immutable caching,
    which a token-gated answer could not honestly carry; the manifest that names them needs a token."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            (200, MODEL_FILE_CONTENT_TYPE): OpenApiResponse(OpenApiTypes.BINARY, description="The .tflite file"),
            304: OpenApiResponse(description="If-None-Match matched the ETag"),
            404: ErrorSerializer,
        },
        summary="A model file named by the manifest (immutable: its URL carries its SHA-256).",
    )
    def get(self, request, sha256: str, filename: str):
        from .model_manifest import model_file_get  # numpy stays out of the web process until asked

        file = model_file_get(sha256=sha256, filename=filename)
        if file is None:
            return Response(error_body("not_found", "No model file with this hash and name."), status=404)
        etag = f'"{file.sha256}"'
        if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
            response = HttpResponse(status=304)
        else:
            response = HttpResponse(file.content, content_type=MODEL_FILE_CONTENT_TYPE)
            response["Content-Length"] = str(file.bytes)
            response["X-Content-Type-Options"] = "nosniff"
        response["ETag"] = etag
        response["Cache-Control"] = PUBLIC_IMMUTABLE
        return response
