"""A clinician probing patient references: creating a patient must not tell them whether another
team uses a reference, and look-alike forms of a reference (case, zero-width characters,
compatibility forms) must not make a second patient beside one the team already has."""
import re
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from backend.patients.models import Patient
from backend.patients.services import patient_create
from tests.backend.factories import UserFactory

LOOK_ALIKES = [
    "p-alpha",                  # other case
    " P-ALPHA ",                # spaces around
    "P-AL\u200bPHA",            # zero-width space
    "P-\u2060ALPHA\u200d",      # word joiner, zero-width joiner
    "\u202eP-ALPHA",            # right-to-left override
    "\uff30\uff0d\uff21\uff2c\uff30\uff28\uff21",  # fullwidth P-ALPHA
    "P-\U0001d400LPHA",         # mathematical bold A
]


def create(web, reference):
    return web.post("/patients/new/", {"reference": reference, "timezone": "UTC"})


def shape(response):
    """What the answer tells the client, with the new patient's own id blanked out."""
    location = re.sub(r"[0-9a-f-]{36}", "<id>", response.get("Location", ""))
    return response.status_code, location


def test_another_teams_reference_answers_exactly_like_a_never_used_one(clinician_web, other_patient):
    taken = create(clinician_web, other_patient.reference)
    fresh = create(clinician_web, "P-NEVER-USED")
    assert shape(taken) == shape(fresh) == (302, "/patients/<id>/manage/")
    # and the other team's patient is untouched: still theirs alone, not visible to this clinician
    other_patient.refresh_from_db()
    assert [c.username for c in other_patient.clinicians.all()] == ["dr_other"]
    assert clinician_web.get(f"/patients/{other_patient.pk}/").status_code == 404


def test_look_alikes_of_another_teams_reference_answer_the_same_too(clinician_web, other_patient):
    for variant in LOOK_ALIKES[:3]:
        Patient.objects.filter(clinicians__username="dr_house").delete()
        assert shape(create(clinician_web, variant)) == (302, "/patients/<id>/manage/"), variant


@pytest.mark.parametrize("variant", LOOK_ALIKES)
def test_a_look_alike_of_my_teams_reference_is_refused_as_the_same_reference(clinician_web, patient, variant):
    response = create(clinician_web, variant)
    assert response.status_code == 409, variant
    assert Patient.objects.filter(clinicians__username="dr_house").count() == 1


def test_a_reference_is_stored_without_its_invisible_characters(clinician_web):
    create(clinician_web, "\u200bP-\ufeffNEW\u00ad ")
    assert Patient.objects.filter(clinicians__username="dr_house").get().reference == "P-NEW"


def test_invisible_characters_alone_are_not_a_reference(clinician_web):
    response = create(clinician_web, "\u200b\u200c\u2060")
    assert response.status_code == 200
    assert not Patient.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the lock is PostgreSQL's")
def test_concurrent_creates_of_look_alike_references_make_one_patient():
    clinician = UserFactory(username="dr_race")
    barrier = threading.Barrier(6)
    outcomes = []

    def attempt(reference):
        barrier.wait()
        try:
            patient_create(actor=clinician, reference=reference, clinicians=[clinician])
            outcomes.append("created")
        except Exception as error:  # noqa: BLE001  (the refusal is the point)
            outcomes.append(getattr(error, "code", repr(error)))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(ref,))
               for ref in ["P-RACE", "p-race", "P-RA\u200bCE", "P-RACE ", "\uff30-RACE", "P-RACE"]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["created"] + ["reference_unavailable"] * 5
    assert Patient.objects.filter(reference_key="p-race").count() == 1


def test_the_enrollment_code_command_refuses_a_reference_that_two_teams_share(clinician, other_clinician):
    patient_create(actor=clinician, reference="P-SHARED", clinicians=[clinician])
    patient_create(actor=other_clinician, reference="p-shared", clinicians=[other_clinician])
    with pytest.raises(CommandError, match="several care teams"):
        call_command("enrollment_code", "--patient", "P-SHARED")
