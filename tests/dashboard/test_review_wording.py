"""Words a clinician read wrong in a review session of `make run` (2026-12-06): a custom range with a
date out of bounds also said "needs both a start and an end date" when both were typed, and the new
patient form said "Timezone" where every other page says "time zone", and a baseline still building
on records read "27 of 70 records, 9 of 7 days"."""
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.backend.factories import add_records
from tests.dashboard.test_patient_detail_view import url


@pytest.mark.parametrize("start, end", [("1900-01-01", "2026-12-01"), ("2026-11-01", "2150-01-01")])
def test_a_date_out_of_bounds_gives_its_own_message_only(clinician_web, patient, start, end):
    response = clinician_web.get(url(patient), {"range": "custom", "start": start, "end": end})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Dates must fall between 2000-01-01 and 2099-12-31." in html
    assert "needs both a start and an end date" not in html


def test_a_custom_range_missing_a_date_still_says_it_needs_both(clinician_web, patient):
    response = clinician_web.get(url(patient), {"range": "custom", "start": "2026-11-01"})
    assert response.status_code == 400
    assert "A custom range needs both a start and an end date." in response.content.decode()


def test_the_new_patient_form_says_time_zone_like_every_other_page(clinician_web):
    html = clinician_web.get("/patients/new/").content.decode()
    assert "<label>Time zone <input" in html and "Timezone" not in html


def test_a_baseline_with_more_days_than_needed_but_too_few_records_counts_days_up_to_the_need(clinician_web, patient):
    now = timezone.now()
    for back in range(6, 15):  # 9 baseline days of 3 records: days met, records not
        add_records(patient, now - timedelta(days=back), "neutral", 3)
    response = clinician_web.get("/patients/")
    (row,) = response.context["rows"]
    assert (row.baseline_text, row.baseline_note) == ("baseline building", "27 of 70 records, 7 of 7 days")
    assert "Own baseline building: 27 of 70 records, 7 of 7 days" in clinician_web.get(url(patient)).content.decode()
