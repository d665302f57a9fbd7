"""The Django admin for operators: every model listed with filters/search; records and batches read-only;
device tokens never shown; actions revoke devices and issue enrollment codes."""
from datetime import timedelta

import pytest
from django.contrib import admin
from django.utils import timezone

from backend.alerts.models import Alert
from backend.audit.models import AuditEvent
from backend.devices.models import EnrollmentCode
from tests.backend.factories import DeviceFactory, add_records

MODELS = ["patients/patient", "devices/device", "devices/enrollmentcode", "ingest/framebatch", "moods/moodrecord",
          "alerts/alert", "alerts/alertthresholds", "audit/auditevent"]


@pytest.fixture
def data(patient):
    device = DeviceFactory(patient=patient, label="Pixel 7")
    batch = add_records(patient, timezone.now() - timedelta(hours=1), "positive", 2)
    now = timezone.now()
    Alert.objects.create(patient=patient, kind=Alert.Kind.NO_DATA, raised_at=now, evaluated_at=now)
    return {"device": device, "batch": batch, "record": batch.mood_records.first()}


@pytest.mark.parametrize("model", MODELS)
def test_every_model_has_a_working_list_with_search(admin_web, data, model):
    response = admin_web.get(f"/admin/{model}/", {"q": "P-ALPHA"})
    assert response.status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_every_model_admin_declares_list_display_and_search(model):
    app_label, name = model.split("/")
    model_admin = next(a for m, a in admin.site._registry.items() if m._meta.label_lower == f"{app_label}.{name}")
    assert len(model_admin.list_display) >= 3 and model_admin.search_fields


@pytest.mark.parametrize("model", ["moods/moodrecord", "ingest/framebatch", "audit/auditevent"])
def test_records_batches_and_audit_are_read_only(admin_web, data, model):
    assert admin_web.get(f"/admin/{model}/add/").status_code == 403
    obj = (
        {"moods/moodrecord": data["record"], "ingest/framebatch": data["batch"]}.get(model)
        or AuditEvent.objects.create(action="patient.view")
    )
    page = admin_web.get(f"/admin/{model}/{obj.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert admin_web.get(f"/admin/{model}/{obj.pk}/delete/").status_code == 403


def test_device_pages_never_show_the_token_its_secret_or_its_digest(admin_web, data):
    device = data["device"]
    secret = device.token.split(".", 1)[1]  # the token is "<public lookup id>.<secret>"
    for page in (admin_web.get("/admin/devices/device/"), admin_web.get(f"/admin/devices/device/{device.pk}/change/")):
        html = page.content.decode()
        assert page.status_code == 200
        assert secret not in html and device.token_digest not in html


def test_the_revoke_action_revokes_selected_devices(admin_web, data):
    device = data["device"]
    admin_web.post("/admin/devices/device/", {"action": "revoke", "_selected_action": [device.pk]})
    device.refresh_from_db()
    assert device.is_revoked


def test_the_issue_code_action_issues_a_code_for_each_selected_patient(admin_web, patient):
    response = admin_web.post(
        "/admin/patients/patient/", {"action": "issue_enrollment_code", "_selected_action": [patient.pk]}, follow=True
    )
    assert EnrollmentCode.objects.filter(patient=patient).count() == 1
    assert "code" in response.content.decode()
