"""Forms of the dashboard: range selection, patient creation, the alert workflow and inbox filter, thresholds,
deletion."""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.utils import timezone

from backend.alerts.definitions import (
    CLINICIAN_RESOLUTIONS,
    NOTE_MAX_CHARS,
    RULE_LABELS,
    STATUS_LABELS,
    THRESHOLD_BOUNDS,
    THRESHOLD_LABELS,
    THRESHOLD_NAMES,
    THRESHOLD_RULES,
)
from backend.alerts.models import AlertThresholds
from backend.alerts.selectors import InboxFilter
from backend.core.bounds import validate_date_in_bounds
from backend.moods.definitions import BUCKET_LABELS, BUCKET_STEPS, MAX_RANGE
from backend.patients.models import Patient, validate_timezone
from backend.patients.references import reference_normalize
from backend.patients.selectors import clinician_list_assignable

PRESETS = {"24h": "24 hours", "7d": "7 days", "30d": "30 days", "90d": "90 days", "custom": "Custom"}
PRESET_DAYS = {"7d": 7, "30d": 30, "90d": 90}
DEFAULT_BUCKET = {"24h": "hour", "7d": "day", "30d": "day", "90d": "day", "custom": "day"}
MAX_CUSTOM_RANGE = MAX_RANGE["day"]


class RangeForm(forms.Form):
    range = forms.ChoiceField(choices=PRESETS.items(), required=False)
    start = forms.DateField(required=False, label="From", validators=[validate_date_in_bounds],
                            widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To", validators=[validate_date_in_bounds],
                          widget=forms.DateInput(attrs={"type": "date"}))
    bucket = forms.ChoiceField(choices=BUCKET_LABELS.items(), required=False)

    def clean(self):
        data = super().clean()
        data["range"] = data.get("range") or "7d"
        if data["range"] == "custom":
            if self.has_error("start") or self.has_error("end"):
                return data  # the date's own message says what is wrong; "needs both dates" would be false
            if not data.get("start") or not data.get("end"):
                raise forms.ValidationError("A custom range needs both a start and an end date.", code="incomplete")
            if data["start"] > data["end"]:
                raise forms.ValidationError("The start date must not be after the end date.", code="reversed")
            if data["end"] - data["start"] > MAX_CUSTOM_RANGE:
                raise forms.ValidationError("A custom range covers at most two years.", code="too_long")
        return data


@dataclass(frozen=True)
class Period:
    preset: str
    start: datetime
    end: datetime
    bucket: str
    note: str = ""

    def query(self) -> dict:
        """The query string that selects this period again (for exports and links)."""
        tz = self.start.tzinfo
        params = {"range": self.preset, "bucket": self.bucket}
        if self.preset == "custom":
            params["start"] = self.start.astimezone(tz).date().isoformat()
            params["end"] = (self.end.astimezone(tz) - timedelta(microseconds=1)).date().isoformat()
        return params


def bucket_fits(*, bucket: str, length: timedelta) -> bool:
    """A bucket can show a range when the range holds at least one whole bucket and not more
    buckets than a chart can draw (hours: 31 days at most)."""
    return BUCKET_STEPS[bucket] <= length <= MAX_RANGE[bucket]


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def period_resolve(*, data: dict, patient: Patient, now: datetime) -> Period:
    """Turn a valid RangeForm's data into an exact [start, end) in the patient's time zone."""
    tz = ZoneInfo(patient.timezone)
    preset = data.get("range") or "7d"
    today = now.astimezone(tz).date()
    if preset == "24h":
        start, end = now - timedelta(hours=24), now
    elif preset == "custom":
        start, end = _local_midnight(data["start"], tz), min(_local_midnight(data["end"] + timedelta(days=1), tz), now)
        if start >= end:
            end = _local_midnight(data["end"] + timedelta(days=1), tz)
    else:  # whole local days: today and the days before it
        start, end = _local_midnight(today - timedelta(days=PRESET_DAYS[preset] - 1), tz), now
    bucket = data.get("bucket") or DEFAULT_BUCKET[preset]
    note = ""
    if not bucket_fits(bucket=bucket, length=end - start):
        fallback = DEFAULT_BUCKET[preset] if bucket_fits(bucket=DEFAULT_BUCKET[preset], length=end - start) else "hour"
        note = (f"{BUCKET_LABELS[bucket]} buckets do not fit a range of this length; "
                f"showing {BUCKET_LABELS[fallback].lower()} buckets.")
        bucket = fallback
    return Period(preset=preset, start=start.astimezone(tz), end=end.astimezone(tz), bucket=bucket, note=note)


class PatientCreateForm(forms.Form):
    reference = forms.CharField(
        max_length=64, help_text="Pseudonymous reference used by the hospital (no real name needed).",
    )
    display_name = forms.CharField(max_length=120, required=False, help_text="Optional; shown only to the care team.")
    timezone = forms.CharField(
        max_length=64, initial="Europe/Paris", validators=[validate_timezone], label="Time zone",
        help_text=(
            "IANA time zone where the patient lives, e.g. Europe/Paris. Days and weeks are cut at their midnight."
        ),
    )
    consent = forms.BooleanField(
        required=False, label="The patient gave informed consent to camera-based mood monitoring",
        help_text="Recorded with your name and the time. Without consent, the patient's device cannot upload.",
    )
    clinicians = forms.ModelMultipleChoiceField(
        queryset=clinician_list_assignable(), required=False,
        help_text="Other clinicians who may see this patient (you are always assigned).",
    )

    def __init__(self, *args, can_assign: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_assign:
            del self.fields["clinicians"]

    def clean_reference(self):
        # Uniqueness is patient_create's to decide, under its lock, and only within the care team.
        reference = reference_normalize(self.cleaned_data["reference"])
        if not reference:
            raise forms.ValidationError("Type a reference (invisible characters alone are not one).", code="required")
        return reference


def _note_field(*, required: bool = False, label: str = "Note (optional)") -> forms.CharField:
    # Django's CharField refuses NUL characters by itself; the services check again for every door.
    return forms.CharField(required=required, label=label, max_length=NOTE_MAX_CHARS,
                           widget=forms.Textarea(attrs={"rows": 2}))


class AcknowledgeForm(forms.Form):
    note = _note_field()


class AssignForm(forms.Form):
    # Any active account by username; alerts.services.alert_assign refuses one without access.
    assignee = forms.ModelChoiceField(queryset=clinician_list_assignable(), to_field_name="username",
                                      label="Assign to", error_messages={
                                          "invalid_choice": "Choose a clinician of this patient's care team."})
    note = _note_field()


class SnoozeForm(forms.Form):
    """A local date and time (an <input type="datetime-local">) in the zone the form was shown in."""

    until = forms.DateTimeField(label="Snooze until", input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
                                validators=[validate_date_in_bounds],
                                error_messages={"invalid": "Give the date and time as YYYY-MM-DD HH:MM."},
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    tz = forms.CharField(widget=forms.HiddenInput, validators=[validate_timezone], max_length=64)
    note = _note_field()

    def clean(self):
        data = super().clean()
        if data.get("until") and data.get("tz"):
            # The form's fields are naive (USE_TZ makes them aware in the current zone): read the
            # wall-clock time again in the zone the person saw beside the field.
            wall = timezone.make_naive(data["until"]) if timezone.is_aware(data["until"]) else data["until"]
            data["until"] = wall.replace(tzinfo=ZoneInfo(data["tz"]))
        return data


class ResolveForm(forms.Form):
    reason = forms.ChoiceField(label="Reason", choices=[("", "Choose a reason"), *CLINICIAN_RESOLUTIONS.items()],
                               error_messages={"required": "Choose why the alert is resolved."})
    note = _note_field(label="Note (required for “Other”)")


class AlertNoteForm(forms.Form):
    text = _note_field(required=True, label="Add a note")


INBOX_STATUSES = {"open": "Open (not snoozed)", **STATUS_LABELS, "all": "All"}


class InboxFilterForm(forms.Form):
    """The inbox's GET parameters; anything else is a 400 page that says what was wrong."""

    state = forms.ChoiceField(choices=INBOX_STATUSES.items(), required=False, label="State", error_messages={
        "invalid_choice": "Unknown state “%(value)s”: choose one of " + ", ".join(INBOX_STATUSES) + "."})
    assignee = forms.ChoiceField(required=False, label="Assigned to", error_messages={
        "invalid_choice": "“%(value)s” is not a clinician of your patients: choose me, none, or one of them."})

    def __init__(self, *args, assignees: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", "Anyone"), ("me", "Me"), ("none", "Nobody"),
                                           *((name, name) for name in assignees)]

    def filters(self) -> InboxFilter:
        state = self.cleaned_data.get("state") or "open"
        return InboxFilter(status="" if state == "all" else state, assignee=self.cleaned_data.get("assignee") or "")


def _threshold_field(name: str) -> forms.Field:
    """A threshold's field: its bounds (definitions.THRESHOLD_BOUNDS) as limits the browser knows too,
    and one message in words for any value outside them or not a number at all (NaN, "abc", a NUL)."""
    low, high = THRESHOLD_BOUNDS[name]
    message = f"Type {THRESHOLD_RULES[name]}, or leave it empty for the default."
    field_class = forms.FloatField if isinstance(low, float) else forms.IntegerField
    return field_class(
        required=False, min_value=low, max_value=high, label=THRESHOLD_LABELS[name],
        help_text=THRESHOLD_RULES[name][0].upper() + THRESHOLD_RULES[name][1:],
        error_messages={"invalid": message, "min_value": message, "max_value": message},
    )


class ThresholdsForm(forms.ModelForm):
    """The patient's own thresholds; an empty field means the default. The model's validators hold
    the same bounds, so the admin and the service refuse what this form refuses."""

    window_days = _threshold_field("window_days")
    negative_share = _threshold_field("negative_share")
    min_records = _threshold_field("min_records")
    no_data_days = _threshold_field("no_data_days")

    class Meta:
        model = AlertThresholds
        fields = [*THRESHOLD_NAMES, "rule"]
        help_texts = {"rule": ""}  # the model's names a setting: the page shows the default in words

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule"].choices = [("", "Default"), *RULE_LABELS.items()]


class SamplingForm(forms.Form):
    """The patient's sampling rate: whole seconds within the bounds the model's validators hold too;
    empty means the clinic's default. One message in words for any refused value."""

    def __init__(self, *args, default: float, **kwargs):
        super().__init__(*args, **kwargs)
        low, high = settings.MOODWATCH["MIN_SAMPLING_SECONDS"], settings.MOODWATCH["MAX_SAMPLING_SECONDS"]
        message = (f"Type a whole number of seconds from {low} to {high} (one hour), "
                   "or leave it empty for the clinic's default.")
        self.fields["sampling_seconds"] = forms.IntegerField(
            required=False, min_value=low, max_value=high, label="Seconds between two frames",
            help_text=f"A whole number from {low} to {high}; empty: the clinic's default, {default:g} s",
            error_messages={"invalid": message, "min_value": message, "max_value": message},
        )


class ClinicianTimezoneForm(forms.Form):
    """The clinician's own time zone: one of the IANA names offered in the list (validate_timezone)."""

    timezone = forms.CharField(
        label="Your time zone", strip=True, error_messages={"required": "Choose a time zone from the list."},
        widget=forms.TextInput(attrs={"list": "timezones", "autocomplete": "off", "spellcheck": "false"}),
        help_text=("Times on the alert inbox and outside patients' pages are shown in it. A patient's page keeps "
                   "the patient's zone, in which their days are counted, and names it."),
    )
    MESSAGE = "Choose a time zone from the list, as a region and a city, e.g. Europe/Paris or America/New_York."

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # One message for any wrong value (unknown, too long, a NUL): the name check below refuses them all.
        self.fields["timezone"].validators = []

    def clean_timezone(self):
        value = self.cleaned_data["timezone"]
        try:
            validate_timezone(value)
        except forms.ValidationError:
            raise forms.ValidationError(self.MESSAGE, code="invalid_timezone")
        return value


class DeleteDataConfirmForm(forms.Form):
    """Second confirmation: type the patient's reference."""

    reference = forms.CharField(max_length=64, label="Type the patient's reference to confirm")

    def __init__(self, *args, patient: Patient, **kwargs):
        super().__init__(*args, **kwargs)
        self.patient = patient

    def clean_reference(self):
        if self.cleaned_data["reference"].strip() != self.patient.reference:
            raise forms.ValidationError("This is not the patient's reference; nothing was deleted.", code="mismatch")
        return self.cleaned_data["reference"]


class SecondFactorForm(forms.Form):
    """A code from the authenticator app (six digits) or a recovery code."""

    code = forms.CharField(max_length=32, strip=True, widget=forms.TextInput(attrs={
        "autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false", "autofocus": True,
        "aria-describedby": "code-help",
    }))
