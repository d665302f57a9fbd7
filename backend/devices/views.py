"""Device enrollment (no auth: the one-time code is the credential)."""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from backend.audit.models import AuditChannel
from backend.audit.services import AuditContext
from backend.core.serializers import ErrorSerializer

from .services import device_enroll
from .tokens import CODE_PATTERN


class DeviceEnrollView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "enroll"

    class InputSerializer(serializers.Serializer):
        # The format of every code issued (tokens.CODE_ALPHABET, CODE_LENGTH), with the case, spaces
        # and dashes people type; anything else is a 400 validation_error, and the schema says so.
        code = serializers.RegexField(CODE_PATTERN, max_length=32)
        label = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")

    class EnrolledDeviceSerializer(serializers.Serializer):
        device_id = serializers.UUIDField(source="device.id")
        token = serializers.CharField()
        patient_id = serializers.CharField(source="device.patient_id")

    @extend_schema(
        request=InputSerializer,
        responses={
            201: EnrolledDeviceSerializer,
            400: OpenApiResponse(ErrorSerializer, description=(
                "validation_error (not a code's format) | enrollment_code_invalid | _used | _cancelled (a newer code "
                "replaced it) | _expired")),
            429: OpenApiResponse(ErrorSerializer, description="throttled per client address (see Retry-After)"),
        },
        auth=[],
        summary="Enroll a device with a one-time code; returns its secret token (shown once).",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device, token = device_enroll(code=data.validated_data["code"], label=data.validated_data["label"],
                                      context=AuditContext.from_request(request, channel=AuditChannel.DEVICE))
        body = self.EnrolledDeviceSerializer({"device": device, "token": token}).data
        return Response(body, status=status.HTTP_201_CREATED)
