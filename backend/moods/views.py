"""Clinician API v1: patients, their mood records and mood summaries. Only the clinician's own patients."""
import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.core.bounds import OUT_OF_RANGE_CODE, OUT_OF_RANGE_MESSAGE, date_in_bounds
from backend.core.serializers import ErrorSerializer
from backend.devices.services import enrollment_code_issue
from backend.patients.models import Patient
from backend.patients.selectors import patient_list_visible_to
from backend.rollups.selectors import mood_buckets

from .models import Mood, MoodRecord
from .selectors import BUCKETS, mood_record_list

DEFAULT_RANGE = timedelta(days=7)
MAX_RANGE = {"hour": timedelta(days=31), "day": timedelta(days=731), "week": timedelta(days=3660)}


class PatientSerializer(serializers.ModelSerializer):
    has_consent = serializers.BooleanField(read_only=True)

    class Meta:
        model = Patient
        fields = ["id", "reference", "display_name", "timezone", "is_active", "has_consent", "consent_recorded_at"]


class MoodRecordSerializer(serializers.ModelSerializer):
    probabilities = serializers.SerializerMethodField()
    box = serializers.SerializerMethodField()

    class Meta:
        model = MoodRecord
        fields = ["id", "captured_at", "mood", "probabilities", "box", "detection_score", "model_version", "batch"]

    def get_probabilities(self, record) -> dict[str, float]:
        return {m: getattr(record, f"p_{m}") for m in Mood.values}

    def get_box(self, record) -> list[int]:
        return [record.box_x, record.box_y, record.box_w, record.box_h]


class RangeSerializer(serializers.Serializer):
    """`from`/`to`: ISO-8601 datetimes with offset, or dates (whole days in the patient's time zone)."""

    # `from` is a Python keyword: declare the field through the class namespace.
    locals()["from"] = serializers.CharField(required=False)
    to = serializers.CharField(required=False)

    def __init__(self, *args, patient: Patient, **kwargs):
        super().__init__(*args, **kwargs)
        self.tz = ZoneInfo(patient.timezone)

    def to_internal_value(self, data):
        # A parameter sent empty (`?bucket=`) is an error, not a request for the default.
        empty = {name: ["must not be empty."] for name in self.fields if name in data and data.get(name) == ""}
        if empty:
            raise serializers.ValidationError(empty, code="blank")
        return super().to_internal_value(data)

    def _moment(self, raw: str, *, end: bool) -> datetime:
        moment = self._parse(raw, end=end)
        if moment.tzinfo is None:
            raise serializers.ValidationError("A datetime needs a UTC offset.", code="timestamp_without_offset")
        return moment

    def _parse(self, raw: str, *, end: bool) -> datetime:
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise serializers.ValidationError(f"{raw[:40]!r} is not a date or ISO-8601 datetime.", code="invalid")
        if not date_in_bounds(value):  # before the arithmetic below, which overflows at the edges
            raise serializers.ValidationError(OUT_OF_RANGE_MESSAGE, code=OUT_OF_RANGE_CODE)
        if len(raw) == 10:  # a date: local midnight; an end date includes that whole day
            day = value.date() + timedelta(days=1 if end else 0)
            return datetime.combine(day, time.min, tzinfo=self.tz)
        return value

    def validate_from(self, raw):
        return self._moment(raw, end=False)

    def validate_to(self, raw):
        return self._moment(raw, end=True)

    def validate(self, attrs):
        end = attrs.get("to") or timezone.now()
        start = attrs.get("from") or end - DEFAULT_RANGE
        if start >= end:
            raise serializers.ValidationError({"from": "must be before 'to'."}, code="empty_range")
        return {"start": start, "end": end, **{k: v for k, v in attrs.items() if k not in ("from", "to")}}


class SummaryQuerySerializer(RangeSerializer):
    bucket = serializers.ChoiceField(choices=list(BUCKETS), default="day")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if attrs["end"] - attrs["start"] > MAX_RANGE[attrs["bucket"]]:
            raise serializers.ValidationError(
                {"to": f"at most {MAX_RANGE[attrs['bucket']].days} days with bucket={attrs['bucket']}."},
                code="range_too_long",
            )
        return attrs


RANGE_PARAMETERS = [
    OpenApiParameter("from", str, description="Start (inclusive): date or datetime with offset. Default: 7 days before `to`."),
    OpenApiParameter("to", str, description="End (exclusive; a date includes its whole day). Default: now."),
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
        return mood_record_list(patient=patient, **query.validated_data)


class BucketSerializer(serializers.Serializer):
    start = serializers.SerializerMethodField(help_text="Bucket start, ISO-8601 in the patient's time zone")
    records = serializers.IntegerField()
    counts = serializers.SerializerMethodField()
    shares = serializers.SerializerMethodField()
    valence = serializers.FloatField(help_text="positive share minus negative share, in [-1, 1]")

    def get_start(self, row) -> str:
        return row["bucket_start"].astimezone(self.context["tz"]).isoformat()

    def get_counts(self, row) -> dict[str, int]:
        return {m: row[f"count_{m}"] for m in Mood.values}

    def get_shares(self, row) -> dict[str, float]:
        return {m: row[f"share_{m}"] for m in Mood.values}


class MoodSummarySerializer(serializers.Serializer):
    """Documentation of the summary body (built in PatientMoodSummaryView.get)."""

    patient_id = serializers.UUIDField()
    timezone = serializers.CharField()
    bucket = serializers.ChoiceField(choices=list(BUCKETS))
    # `from` is a Python keyword: declare the field through the class namespace.
    locals()["from"] = serializers.DateTimeField(help_text="Range start, in the patient's time zone")
    to = serializers.DateTimeField(help_text="Range end (exclusive), in the patient's time zone")
    buckets = BucketSerializer(many=True)


class PatientMoodSummaryView(ClinicianPatientMixin, APIView):
    @extend_schema(
        parameters=[*RANGE_PARAMETERS, OpenApiParameter("bucket", str, enum=list(BUCKETS), description="Default: day")],
        responses={200: MoodSummarySerializer, 400: ErrorSerializer, 404: ErrorSerializer},
        summary="Mood counts, shares and valence per hour/day/week in the patient's time zone.",
    )
    def get(self, request, patient_id):
        patient = self.patient_get(request, patient_id)
        query = SummaryQuerySerializer(data=request.query_params, patient=patient)
        query.is_valid(raise_exception=True)
        # Same rows as moods.selectors.mood_summary, summed from the 15-minute rollup (fast at 1M records).
        rows = mood_buckets(patient=patient, **query.validated_data)
        tz = ZoneInfo(patient.timezone)
        return Response({
            "patient_id": str(patient.pk),
            "timezone": patient.timezone,
            "bucket": query.validated_data["bucket"],
            "from": query.validated_data["start"].astimezone(tz).isoformat(),
            "to": query.validated_data["end"].astimezone(tz).isoformat(),
            "buckets": BucketSerializer(rows, many=True, context={"tz": tz}).data,
        })


class EnrollmentCodeCreateView(ClinicianPatientMixin, APIView):
    class EnrollmentCodeSerializer(serializers.Serializer):
        code = serializers.CharField()
        expires_at = serializers.DateTimeField(source="row.expires_at")
        patient_id = serializers.CharField(source="row.patient_id")

    @extend_schema(request=None, responses={201: EnrollmentCodeSerializer, 404: ErrorSerializer},
                   summary="Issue a one-time device enrollment code for a patient (shown once).")
    def post(self, request, patient_id):
        patient = self.patient_get(request, patient_id)
        row, code = enrollment_code_issue(patient=patient, issued_by=request.user)
        return Response(self.EnrollmentCodeSerializer({"row": row, "code": code}).data, status=status.HTTP_201_CREATED)
