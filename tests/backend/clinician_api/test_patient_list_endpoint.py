"""GET /api/v1/patients/: clinicians see their own patients only."""
from tests.backend.conftest import clinician_client

URL = "/api/v1/patients/"


def references(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {p["reference"] for p in response.json()["results"]} if "results" in response.json() else {
        p["reference"] for p in response.json()}


def test_a_clinician_sees_only_their_own_patients(clinician, patient, other_patient):
    assert references(clinician_client(clinician).get(URL)) == {"P-ALPHA"}


def test_another_clinician_sees_only_theirs(other_clinician, patient, other_patient):
    assert references(clinician_client(other_clinician).get(URL)) == {"P-BRAVO"}


def test_an_admin_sees_every_patient(admin_user, patient, other_patient):
    assert references(clinician_client(admin_user).get(URL)) == {"P-ALPHA", "P-BRAVO"}


def test_the_list_shows_timezone_and_consent(clinician, patient):
    body = clinician_client(clinician).get(URL).json()
    row = (body["results"] if "results" in body else body)[0]
    assert row["id"] == str(patient.pk)
    assert row["timezone"] == "Europe/Paris"
    assert row["has_consent"] is True


def test_anonymous_users_are_refused(client, patient):
    assert client.get(URL).status_code == 401


def test_a_device_token_is_not_a_clinician_login(device_client):
    assert device_client.get(URL).status_code == 401


def test_a_clinician_can_log_in_with_an_api_token(client, clinician, patient):
    from backend.clinician_api.services import api_token_issue

    response = client.get(URL, HTTP_AUTHORIZATION=f"Token {api_token_issue(user=clinician)}")
    assert references(response) == {"P-ALPHA"}
