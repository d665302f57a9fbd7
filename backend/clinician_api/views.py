"""Clinician API v1: patients, their mood records and mood summaries, enrollment codes. Only the
clinician's own patients (superusers: all). Every read of a patient's records is audited."""
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import F
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.audit.models import AuditAction, AuditChannel
from backend.audit.services import AuditContext, patient_data_read_record, patient_list_read_record
from backend.core.bounds import date_in_bounds
from backend.core.parsers import NonFiniteJSONParser
from backend.core.serializers import ErrorSerializer
from backend.devices.services import enrollment_code_issue
from backend.moods.definitions import BUCKET_STEPS, DEFAULT_BUCKET
from backend.moods.selectors import mood_record_list, self_report_agreement
from backend.patients.models import Patient
from backend.patients.selectors import patient_list_visible_to
from backend.patients.services import patient_device_settings_set
from backend.rollups.selectors import mood_buckets

from .serializers import (
    BucketSerializer,
    MoodRecordSerializer,
    MoodSummarySerializer,
    PatientSerializer,
    PatientUpdateSerializer,
    RangeSerializer,
    SummaryQuerySerializer,
)


def audit_context(request) -> AuditContext:
    return AuditContext.from_request(request, channel=AuditChannel.API)


# Present but empty (`from=`) is a 400 (RangeSerializer): the schema says minLength 1.
MOMENT = {"type": "string", "minLength": 1}
RANGE_PARAMETERS = [
    OpenApiParameter(
        "from", MOMENT, description="Start (inclusive): date or datetime with offset. Default: 7 days before `to`."
    ),
    OpenApiParameter("to", MOMENT, description="End (exclusive; a date includes its whole day). Default: now."),
]


class ClinicianPatientMixin:
    def patient_get(self, request, patient_id: str) -> Patient:
        try:
            patient_uuid = uuid.UUID(patient_id)
        except ValueError:
            raise Http404
        return get_object_or_404(patient_list_visible_to(user=request.user), pk=patient_uuid)


class PatientListView(generics.ListAPIView):
    serializer_class = PatientSerializer

    def get_queryset(self):
        return patient_list_visible_to(user=self.request.user)

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        patient_list_read_record(actor=request.user, patients=len(response.data), context=audit_context(request))
        return response


class PatientDetailView(ClinicianPatientMixin, APIView):
    # NaN or Infinity for sampling_seconds: the field's validation_error, not a bare parse error.
    parser_classes = [NonFiniteJSONParser, FormParser, MultiPartParser]

    @extend_schema(
        request=PatientUpdateSerializer,
        responses={200: PatientSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
        summary="Change a patient's inference mode (on_device: the phone sends mood records only; frames) "
                "and/or sampling rate (seconds between two frames; null: the clinic's default).",
    )
    def patch(self, request, patient_id):
        patient = self.patient_get(request, patient_id)
        update = PatientUpdateSerializer(data=request.data)
        update.is_valid(raise_exception=True)
        patient = patient_device_settings_set(patient=patient, actor=request.user, context=audit_context(request),
                                              **update.validated_data)
        return Response(PatientSerializer(patient).data)


class MoodRecordPagination(CursorPagination):
    ordering = ("captured_at", "id")
    page_size = 200
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_size(self, request):
        """DRF ignores a page_size that is not a number; we refuse it (400), as any bad parameter."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 7 and 1 <= int(raw) <= self.max_page_size):
            raise serializers.ValidationError(
                {self.page_size_query_param: [f"must be a whole number from 1 to {self.max_page_size}."]},
                code="invalid")
        return int(raw)

    def decode_cursor(self, request):
        """DRF's decoding, plus a check of the position the cursor carries: a forged cursor whose
        position is not a timestamp inside the calendar window is refused (404 invalid cursor,
        as DRF answers for any other bad cursor) before it reaches a query."""
        cursor = super().decode_cursor(request)
        if cursor is None or cursor.position is None:
            return cursor
        try:
            position = datetime.fromisoformat(cursor.position)
        except ValueError:
            position = None
        if position is None or position.tzinfo is None or not date_in_bounds(position):
            raise NotFound(self.invalid_cursor_message, code="invalid_cursor")
        return cursor


class PatientMoodListView(ClinicianPatientMixin, generics.ListAPIView):
    serializer_class = MoodRecordSerializer
    pagination_class = MoodRecordPagination

    @extend_schema(parameters=RANGE_PARAMETERS,
                   responses={200: MoodRecordSerializer(many=True), 400: ErrorSerializer, 404: ErrorSerializer})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        patient = self.patient_get(self.request, self.kwargs["patient_id"])
        query = RangeSerializer(data=self.request.query_params, patient=patient)
        query.is_valid(raise_exception=True)
        self.audit = {"patient": patient, **query.validated_data}
        return mood_record_list(patient=patient, **query.validated_data).annotate(batch_uuid=F("batch__batch_id"))

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)  # a refused range or cursor raises: nothing read
        patient_data_read_record(action=AuditAction.RECORDS_READ, actor=request.user, context=audit_context(request),
                                 records=len(response.data["results"]), **self.audit)
        return response


class PatientMoodSummaryView(ClinicianPatientMixin, APIView):
    @extend_schema(
        parameters=[*RANGE_PARAMETERS, OpenApiParameter("bucket", str, enum=list(BUCKET_STEPS),
                                                       description=f"Default: {DEFAULT_BUCKET}")],
        responses={200: MoodSummarySerializer, 400: ErrorSerializer, 404: ErrorSerializer},
        summary="Mood counts, shares and valence per hour/day/week in the patient's time zone.",
    )
    def get(self, request, patient_id):
        patient = self.patient_get(request, patient_id)
        query = SummaryQuerySerializer(data=request.query_params, patient=patient)
        query.is_valid(raise_exception=True)
        # Same rows as moods.selectors.mood_summary, summed from the 15-minute rollup (fast at 1M records).
        rows = mood_buckets(patient=patient, **query.validated_data)
        patient_data_read_record(action=AuditAction.SUMMARY_READ, actor=request.user, patient=patient,
                                 context=audit_context(request), **query.validated_data)
        tz = ZoneInfo(patient.timezone)
        return Response({
            "patient_id": str(patient.pk),
            "timezone": patient.timezone,
            "bucket": query.validated_data["bucket"],
            "from": query.validated_data["start"].astimezone(tz).isoformat(),
            "to": query.validated_data["end"].astimezone(tz).isoformat(),
            "buckets": BucketSerializer(rows, many=True, context={"tz": tz}).data,
            "self_report_agreement": self_report_agreement(patient=patient,
                                                           end=query.validated_data["end"]).as_dict(),
        })


class EnrollmentCodeCreateView(ClinicianPatientMixin, APIView):
    class EnrollmentCodeSerializer(serializers.Serializer):
        code = serializers.CharField()
        expires_at = serializers.DateTimeField(source="row.expires_at")
        patient_id = serializers.CharField(source="row.patient_id")

    @extend_schema(
        request=None,
        responses={201: EnrollmentCodeSerializer,
                   403: OpenApiResponse(ErrorSerializer, description="consent_missing: record consent first"),
                   404: ErrorSerializer,
                   409: OpenApiResponse(ErrorSerializer, description="patient_inactive")},
        summary="Issue a one-time device enrollment code for a patient (shown once); it cancels the patient's "
                "earlier unused codes.")
    def post(self, request, patient_id):
        patient = self.patient_get(request, patient_id)
        row, code = enrollment_code_issue(patient=patient, actor=request.user, context=audit_context(request))
        return Response(self.EnrollmentCodeSerializer({"row": row, "code": code}).data, status=status.HTTP_201_CREATED)
