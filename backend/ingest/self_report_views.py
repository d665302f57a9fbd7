"""Device API: a self-report, the patient's own mood (one tap at the end of a check-in in the patient app).

It lives with the other device uploads and goes through the same door (backend.devices.doors:
authentication, consent check and throttle); the report itself belongs to backend.moods, which
validates and stores it."""
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers, status
from rest_framework.response import Response

from backend.core.parsers import BoundedJSONParser
from backend.core.serializers import ErrorSerializer
from backend.devices.doors import DeviceUploadView, device_upload_schema
from backend.moods.models import Mood
from backend.moods.self_reports import self_report_validate
from backend.moods.services import self_report_record


class SelfReportSerializer(serializers.Serializer):
    report_id = serializers.UUIDField(help_text="Chosen by the device; a retry with the same id is idempotent.")
    reported_at = serializers.DateTimeField(help_text="ISO 8601 with a UTC offset; answered in UTC.")
    mood = serializers.ChoiceField(choices=Mood.choices)


class SelfReportCreateView(DeviceUploadView):
    parser_classes = [BoundedJSONParser]

    @device_upload_schema(
        request=SelfReportSerializer,
        answers={
            201: OpenApiResponse(SelfReportSerializer, description="Stored"),
            200: OpenApiResponse(SelfReportSerializer, description="Same report_id and content again"),
            400: OpenApiResponse(ErrorSerializer, description="validation_error (errors[]) | parse_error"),
            409: OpenApiResponse(ErrorSerializer, description="report_id_conflict"),
            415: ErrorSerializer,
        },
        summary="Send the patient's self-reported mood (idempotent on report_id).",
    )
    def post(self, request):
        valid = self_report_validate(request.data)
        device = request.auth
        report, created = self_report_record(patient_id=device.patient_id, device_id=device.pk,
                                             report_id=valid.report_id, reported_at=valid.reported_at, mood=valid.mood)
        # One body for the first answer and every retry, so a phone that lost the 201 sees the same.
        body = SelfReportSerializer(report).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
