"""Serializers of the clinician API v1: patients, mood records, ranges and summaries."""
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import QueryDict
from django.utils import timezone
from rest_framework import serializers

from backend.core.bounds import OUT_OF_RANGE_CODE, OUT_OF_RANGE_MESSAGE, date_in_bounds
from backend.moods.definitions import BUCKET_STEPS, DEFAULT_BUCKET, DEFAULT_RANGE, MAX_RANGE
from backend.moods.models import Mood, MoodRecord
from backend.patients.models import InferenceMode, Patient


class PatientSerializer(serializers.ModelSerializer):
    has_consent = serializers.BooleanField(read_only=True)

    class Meta:
        model = Patient
        fields = ["id", "reference", "display_name", "timezone", "is_active", "has_consent", "consent_recorded_at",
                  "inference_mode", "sampling_seconds", "effective_sampling_seconds"]
        read_only_fields = fields

    effective_sampling_seconds = serializers.FloatField(
        read_only=True, help_text="The rate the phone follows: sampling_seconds, or the clinic's default when null.")


class SamplingSecondsField(serializers.IntegerField):
    """Whole seconds within the bounds, or null. DRF's IntegerField would take "5", 5.0 and "5.0";
    in JSON an integer number is the one spelling taken (in a form, whose values are all text, its
    digits), so "5", true, 1.5, NaN and 1e309 are refused as what they are."""

    def __init__(self, **kwargs):
        low, high = settings.MOODWATCH["MIN_SAMPLING_SECONDS"], settings.MOODWATCH["MAX_SAMPLING_SECONDS"]
        super().__init__(min_value=low, max_value=high, allow_null=True, required=False, help_text=(
            f"Seconds between two sampled frames, {low} to {high}; null: the clinic's default."), **kwargs)

    def to_internal_value(self, data):
        from_form = isinstance(getattr(self.parent, "initial_data", None), QueryDict)
        if from_form and isinstance(data, str) and data.isascii() and data.isdigit() and len(data) <= 9:
            data = int(data)
        if type(data) is not int:
            self.fail("invalid")
        return super().to_internal_value(data)


class PatientUpdateSerializer(serializers.Serializer):
    """PATCH /api/v1/patients/{id}/: the fields a clinician may change here (the inference mode and
    the sampling rate), one or both."""

    inference_mode = serializers.ChoiceField(choices=InferenceMode.choices, required=False)
    sampling_seconds = SamplingSecondsField()

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(str(key)[:40] for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError({key: ["This field cannot be changed here."] for key in unknown},
                                                  code="unknown_field")
            if not any(name in data for name in self.fields):
                message = f"Send at least one of {', '.join(self.fields)}."
                raise serializers.ValidationError({name: [message] for name in self.fields}, code="required")
        return super().to_internal_value(data)


class MoodRecordSerializer(serializers.ModelSerializer):
    probabilities = serializers.SerializerMethodField()
    box = serializers.SerializerMethodField()

    class Meta:
        model = MoodRecord
        # source: `device` (computed on the patient's phone, on_device mode) or `server` (from an uploaded frame)
        fields = ["id", "captured_at", "mood", "probabilities", "box", "detection_score", "model_version", "source",
                  "batch_id"]

    # The upload's own UUID (the phone's batch_id), not the batch row's global sequential key, which
    # told any clinician how many batches the whole hospital had uploaded, and when.
    batch_id = serializers.UUIDField(source="batch_uuid", read_only=True)

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
    bucket = serializers.ChoiceField(choices=list(BUCKET_STEPS), default=DEFAULT_BUCKET)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if attrs["end"] - attrs["start"] > MAX_RANGE[attrs["bucket"]]:
            raise serializers.ValidationError(
                {"to": f"at most {MAX_RANGE[attrs['bucket']].days} days with bucket={attrs['bucket']}."},
                code="range_too_long",
            )
        return attrs


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


class SelfReportAgreementSerializer(serializers.Serializer):
    """Agreement between self-report and expression (backend.moods.agreement), over the `days` days
    before the range's end."""

    days = serializers.IntegerField()
    window_minutes = serializers.IntegerField(help_text="Records within this many minutes either side of a report")
    reports = serializers.IntegerField(help_text="Self-reports in the period")
    compared = serializers.IntegerField(help_text="Reports with a single majority expression mood in their window")
    agreeing = serializers.IntegerField()
    agreement = serializers.FloatField(allow_null=True, help_text="agreeing / compared; null when none compared")
    ci95_low = serializers.FloatField(allow_null=True, help_text="Wilson 95% interval")
    ci95_high = serializers.FloatField(allow_null=True)
    without_records = serializers.IntegerField(help_text="Reports with no expression record in their window")
    ties = serializers.IntegerField(help_text="Reports whose window has a tie for the most frequent mood")


class MoodSummarySerializer(serializers.Serializer):
    """Documentation of the summary body (built in PatientMoodSummaryView.get)."""

    patient_id = serializers.UUIDField()
    timezone = serializers.CharField()
    bucket = serializers.ChoiceField(choices=list(BUCKET_STEPS))
    # `from` is a Python keyword: declare the field through the class namespace.
    locals()["from"] = serializers.DateTimeField(help_text="Range start, in the patient's time zone")
    to = serializers.DateTimeField(help_text="Range end (exclusive), in the patient's time zone")
    buckets = BucketSerializer(many=True)
    self_report_agreement = SelfReportAgreementSerializer()


