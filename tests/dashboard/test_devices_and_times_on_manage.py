"""Review fixes on the device pages. One way of writing a time with its zone on every page
('2026-12-05 22:57 EST', the `zoned` filter), not '5 Dec 2026, 22:57 (America/New_York)' on some.
A patient with more than one active phone is said so plainly, with each phone's revoke action, on the
manage page and the patient page (enrollment itself is unchanged: the earlier phone stays active)."""
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from backend.devices.services import enrollment_code_issue
from tests.backend.factories import DeviceFactory

ENROLLED = datetime(2026, 12, 6, 3, 57, tzinfo=ZoneInfo("UTC"))  # 2026-12-05 22:57 in New York (EST)
ZONED = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} [A-Z+-][A-Za-z0-9+-]*")


@pytest.fixture
def new_yorker(patient):
    patient.timezone = "America/New_York"
    patient.save()
    return patient


def stamp(moment) -> str:
    return moment.astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%d %H:%M ") + \
        moment.astimezone(ZoneInfo("America/New_York")).tzname()


def test_revoke_code_and_manage_pages_write_times_one_way(clinician_web, clinician, new_yorker):
    device = DeviceFactory(patient=new_yorker, label="Pixel 7")
    device.enrolled_at = ENROLLED
    device.save(update_fields=["enrolled_at"])
    enrollment_code_issue(patient=new_yorker, actor=clinician)
    revoke = clinician_web.get(f"/patients/{new_yorker.pk}/devices/{device.pk}/revoke/").content.decode()
    manage = clinician_web.get(f"/patients/{new_yorker.pk}/manage/").content.decode()
    code = clinician_web.get(f"/patients/{new_yorker.pk}/enrollment-code/").content.decode()
    assert f"enrolled {stamp(ENROLLED)}" in revoke
    assert f"<td data-label=\"Enrolled\">{stamp(ENROLLED)}</td>" in manage
    assert re.search(r"alid (once, )?until <strong>" + ZONED.pattern + "</strong>", code)
    for page in (revoke, manage, code):
        main = page.split("<main", 1)[1]
        assert "(America/New_York)" not in main
        assert not re.search(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}", main), "the other way of writing a time"


@pytest.mark.parametrize("page", ["manage/", ""])
def test_two_active_phones_are_said_plainly_with_their_revoke_actions(clinician_web, new_yorker, page):
    old = DeviceFactory(patient=new_yorker, label="Old phone")
    new = DeviceFactory(patient=new_yorker, label="New phone")
    DeviceFactory(patient=new_yorker, label="Gone phone", revoked_at=timezone.now())
    html = clinician_web.get(f"/patients/{new_yorker.pk}/{page}").content.decode()
    notice = re.search(r'<div class="multi-device".*?</div>', html, re.S).group(0)
    assert "2 phones active:" in notice
    for device in (old, new):
        assert device.label in notice
        assert f"/patients/{new_yorker.pk}/devices/{device.pk}/revoke/" in notice
    assert "Gone phone" not in notice


@pytest.mark.parametrize("page", ["manage/", ""])
def test_one_active_phone_needs_no_notice(clinician_web, new_yorker, page):
    DeviceFactory(patient=new_yorker, label="Only phone")
    DeviceFactory(patient=new_yorker, label="Gone phone", revoked_at=timezone.now())
    assert "phones active" not in clinician_web.get(f"/patients/{new_yorker.pk}/{page}").content.decode()


def test_active_phones_are_listed_before_revoked_ones(clinician_web, new_yorker):
    DeviceFactory(patient=new_yorker, label="Gone phone", revoked_at=timezone.now())
    DeviceFactory(patient=new_yorker, label="Live phone")
    html = clinician_web.get(f"/patients/{new_yorker.pk}/manage/").content.decode()
    table = html.split('<table class="devices">', 1)[1]
    assert table.index("Live phone") < table.index("Gone phone")


@pytest.mark.parametrize("page", ["manage/", ""])
def test_many_active_phones_list_three_and_count_the_rest(clinician_web, new_yorker, page):
    """25 phones active (a simulator enrolled in a loop) must not push the patient's figures off the
    screen: three are named with their revoke action, the rest counted with a link to every phone."""
    for n in range(25):
        DeviceFactory(patient=new_yorker, label=f"Phone {n:02d}")
    html = clinician_web.get(f"/patients/{new_yorker.pk}/{page}").content.decode()
    notice = re.search(r'<div class="multi-device".*?</div>', html, re.S).group(0)
    assert "25 phones active:" in notice
    assert notice.count("/revoke/") == 3
    assert "and 22 more" in notice and f"/patients/{new_yorker.pk}/manage/#devices" in notice
