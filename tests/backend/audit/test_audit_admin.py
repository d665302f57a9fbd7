"""The audit log in the Django admin: readable by admins, editable by nobody."""
import pytest

from backend.audit.models import AuditAction
from backend.audit.services import audit_record


@pytest.fixture
def event(clinician, patient):
    return audit_record(action=AuditAction.PATIENT_VIEW, actor=clinician, patient=patient)


def test_an_admin_reads_the_log_list_and_an_entry(admin_web, event):
    listing = admin_web.get("/admin/audit/auditevent/")
    assert listing.status_code == 200 and "P-ALPHA" in listing.content.decode()
    assert admin_web.get(f"/admin/audit/auditevent/{event.pk}/change/").status_code == 200


def test_nobody_can_add_change_or_delete_entries_in_the_admin(admin_web, event):
    assert admin_web.get("/admin/audit/auditevent/add/").status_code == 403
    admin_web.post(f"/admin/audit/auditevent/{event.pk}/change/", {"action": "data.delete", "actor_username": "x"})
    assert admin_web.get(f"/admin/audit/auditevent/{event.pk}/delete/").status_code == 403
    admin_web.post(
        "/admin/audit/auditevent/", {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
    )
    event.refresh_from_db()
    assert event.action == AuditAction.PATIENT_VIEW and event.actor_username == "dr_house"


def test_a_clinician_without_staff_rights_cannot_open_the_admin(clinician_web, event):
    assert clinician_web.get("/admin/audit/auditevent/").status_code == 302
