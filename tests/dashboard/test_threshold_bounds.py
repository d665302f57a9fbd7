"""Issue 29 part 6: the alert thresholds form refuses values that break the rule, with a message in
words beside the field, keeps what was typed in every field, and saves nothing. The same bounds hold
in the model (the admin, the service) and in the settings."""
import html
import re
from math import nan

import pytest
from django.core.exceptions import ValidationError

from backend.alerts.definitions import THRESHOLD_BOUNDS, THRESHOLD_NAMES, Thresholds, thresholds_problems
from backend.alerts.models import AlertThresholds
from backend.alerts.services import alert_thresholds_set
from backend.audit.models import AuditAction, AuditEvent

# Valid values, each different from every default and from the others, to see them kept on a refusal.
KEPT = {"window_days": "5", "negative_share": "0.7", "min_records": "30", "no_data_days": "4", "rule": "absolute"}
EDGES = ["0", "1.0001", "-1", "NaN", "nan", "inf", "1e308", "999999999999", "\x00", "1\x00", "abc", " 3 days"]
# What each field takes of the edge values above ("1" and "" everywhere: the lowest integer, the default).
ACCEPTED = {name: {"1", ""} for name in THRESHOLD_NAMES}


def post(web, patient, data):
    return web.post(f"/patients/{patient.pk}/thresholds/", data)


def field_block(page: str, name: str) -> str:
    """The markup of one threshold's block on the manage page."""
    match = re.search(rf'<div class="threshold[^"]*">\s*<label for="id_{name}">.*?</div>', page, re.S)
    assert match, name
    return match.group(0)


def field_value(block: str) -> str | None:
    match = re.search(r'<input[^>]*\bvalue="([^"]*)"', block)
    return html.unescape(match.group(1)) if match else None


@pytest.mark.parametrize("name", THRESHOLD_NAMES)
@pytest.mark.parametrize("value", EDGES)
def test_a_value_out_of_bounds_gets_words_beside_its_field_and_nothing_is_saved(clinician_web, patient, name, value):
    response = post(clinician_web, patient, {**KEPT, name: value})
    assert response.status_code == 400
    page = response.content.decode()
    block = field_block(page, name)
    error = re.search(r'<span class="error" id="id_' + name + r'_error">(.*?)</span>', block, re.S)
    assert error, block
    message = html.unescape(error.group(1))
    assert message.startswith("Type ") and "or leave it empty for the default" in message, message
    assert 'aria-invalid="true"' in block and f"id_{name}_error" in block  # read out with the field
    for developer_text in ("Ensure this value", "Enter a", name + ":", "Thresholds not saved: " + name):
        assert developer_text not in page
    for other, kept in KEPT.items():
        if other == "rule":
            assert re.search(r'<option value="absolute" selected>', page)
        elif other != name:
            assert field_value(field_block(page, other)) == kept, other
            assert 'class="threshold invalid"' not in field_block(page, other)
    assert not AlertThresholds.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.ALERT_THRESHOLDS_CHANGE).exists()


@pytest.mark.parametrize("name", THRESHOLD_NAMES)
def test_the_bounds_themselves_are_accepted_and_an_empty_field_is_the_default(clinician_web, patient, name):
    low, high = THRESHOLD_BOUNDS[name]
    for value in (low, high):
        response = post(clinician_web, patient, {**KEPT, name: str(value)})
        assert response.status_code == 302, (name, value)
        assert getattr(AlertThresholds.objects.get(patient=patient), name) == value
    assert post(clinician_web, patient, {**KEPT, name: ""}).status_code == 302
    assert getattr(AlertThresholds.objects.get(patient=patient), name) is None


def test_the_form_states_each_bound_and_the_browser_knows_them(clinician_web, patient):
    page = clinician_web.get(f"/patients/{patient.pk}/manage/").content.decode()
    for name in THRESHOLD_NAMES:
        block = field_block(page, name)
        low, high = THRESHOLD_BOUNDS[name]
        assert f'min="{low}"' in block and f'max="{high}"' in block
        help_text = re.search(r'<span class="help" id="id_' + name + r'_helptext">(.*?)</span>', block).group(1)
        assert f"from {low:g} to {high:g}" in help_text and "default" in help_text


def test_one_refused_field_among_several_errors_marks_each(clinician_web, patient):
    response = post(clinician_web, patient, {**KEPT, "negative_share": "0", "min_records": "999999999999"})
    page = response.content.decode()
    assert response.status_code == 400 and "correct the fields marked below" in page
    assert 'class="threshold invalid"' in field_block(page, "negative_share")
    assert 'class="threshold invalid"' in field_block(page, "min_records")
    assert field_value(field_block(page, "min_records")) == "999999999999"  # kept, to be corrected


@pytest.mark.parametrize("name, value", [
    ("negative_share", 0.0), ("negative_share", nan), ("negative_share", 1.0001),
    ("min_records", 999999999999), ("window_days", 0), ("no_data_days", 91),
])
def test_the_service_refuses_the_same_values_whoever_calls_it(patient, clinician, name, value):
    with pytest.raises(ValidationError):
        alert_thresholds_set(patient=patient, actor=clinician, values={name: value})
    assert not AlertThresholds.objects.filter(**{f"{name}__isnull": False}).exists()


def test_the_admin_refuses_a_share_of_zero(admin_web, patient):
    response = admin_web.post("/admin/alerts/alertthresholds/add/", {"patient": patient.pk, "negative_share": "0"})
    assert response.status_code == 200 and "Type a share from" in response.content.decode()
    assert not AlertThresholds.objects.exists()


@pytest.mark.parametrize("name, value", [("negative_share", 0.0), ("min_records", 999999999999),
                                         ("negative_share", nan), ("window_days", 0)])
def test_settings_defaults_out_of_bounds_are_named(name, value):
    good = Thresholds(window_days=3, negative_share=0.6, min_records=50, no_data_days=2)
    assert thresholds_problems(good) == []
    problems = thresholds_problems(Thresholds(**{**good.as_dict(), name: value}))
    assert len(problems) == 1 and problems[0].startswith(name)
