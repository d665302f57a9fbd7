"""Input that reached a 500 without logging in (issue 26, item 6) now gets a 4xx: JSON under /api/,
an HTML page (or the admin's own refusal) elsewhere, with DEBUG on or off."""
import pytest
from django.contrib import admin
from django.test import Client

from tests.backend.conftest import fresh_cache  # noqa: F401  (autouse: enroll's throttle starts at zero)
from tests.support import PASSWORD

pytestmark = pytest.mark.django_db

ENROLL = "/api/v1/devices/enroll/"
LOGIN_DOORS = ["/login/", "/api/v1/auth/login/", "/admin/login/"]


def hostile_client() -> Client:
    return Client(raise_request_exception=False)  # a 500 is an answer here, not a test error


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [1000, 50_000, 100, 33])
def test_deeply_nested_json_is_a_400_with_a_code(depth, settings):
    assert depth > settings.MOODWATCH["JSON_MAX_DEPTH"]
    response = hostile_client().post(ENROLL, nested(depth), content_type="application/json")
    assert response.status_code == 400, response.content[:200]
    assert response.json()["code"] == "json_too_deep"


def test_json_as_deep_as_the_limit_is_parsed_and_judged_on_its_content(settings):
    body = '{"code": ' + nested(settings.MOODWATCH["JSON_MAX_DEPTH"] - 1) + "}"
    response = hostile_client().post(ENROLL, body, content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "validation_error"


@pytest.mark.parametrize("length", [151, 256, 300, 10_000])
@pytest.mark.parametrize("path", LOGIN_DOORS)
def test_an_overlong_username_on_any_login_door_is_a_400(clinician, path, length):
    client = hostile_client()
    response = client.post(path, {"username": "u" * length, "password": "wrong"})
    assert response.status_code == 400, response.status_code
    if path.startswith("/api/"):
        assert response.json()["code"] == "bad_request"
    else:
        assert response["Content-Type"].startswith("text/html")
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("fields", [{"username": "dr_house\x00", "password": PASSWORD},
                                    {"username": "dr_house", "password": "x\x00y"},
                                    {"username": "\x00" * 200, "password": "\x00"}])
@pytest.mark.parametrize("path", LOGIN_DOORS)
def test_nul_in_the_credentials_is_a_failed_login_not_a_500(clinician, path, fields):
    client = hostile_client()
    response = client.post(path, fields)
    assert response.status_code in (200, 400), response.status_code
    assert "_auth_user_id" not in client.session


def test_a_username_of_the_longest_possible_length_is_an_ordinary_failed_login(clinician):
    response = hostile_client().post("/login/", {"username": "u" * 150, "password": "wrong"})
    assert response.status_code == 200  # the form again, with its error


def too_many(settings, extra: int = 1) -> str:
    return "&".join(f"p{n}=1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + extra))


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("path", ["/api/v1/patients/", "/api/v1/devices/enroll/", "/login/", "/patients/",
                                  "/admin/"])
def test_too_many_query_parameters_is_a_400(settings, debug, path):
    settings.DEBUG = debug
    response = hostile_client().get(f"{path}?{too_many(settings)}")
    assert response.status_code == 400, (debug, path, response.status_code)
    if path.startswith("/api/"):
        assert response.json()["code"] == "bad_request"
    else:
        assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("path", ["/api/v1/devices/enroll/", "/login/", "/admin/login/"])
def test_too_many_form_fields_in_a_body_is_a_400(settings, debug, path):
    settings.DEBUG = debug
    response = hostile_client().post(path, too_many(settings), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400, (debug, path, response.status_code)
    if path.startswith("/api/"):
        assert response.json()["code"] == "bad_request"


def date_drilldowns():
    """Every changelist with a date drill-down (ours and django-axes'), so a new one is covered too."""
    from django.apps import apps

    apps.get_app_configs()  # the registry is complete once Django is set up
    return sorted((f"/admin/{m._meta.app_label}/{m._meta.model_name}/", a.date_hierarchy)
                  for m, a in admin.site._registry.items() if a.date_hierarchy)


@pytest.mark.parametrize("query", ["{f}__year=99999999999", "{f}__year=9999", "{f}__year=-5",
                                   "{f}__year=9999&{f}__month=12&{f}__day=31", "{f}__year=2026&{f}__month=99999999999",
                                   "{f}__year=2026&{f}__month=2&{f}__day=30"])
@pytest.mark.parametrize("changelist,field", date_drilldowns())
def test_an_impossible_date_drill_down_in_the_admin_is_refused_not_a_500(admin_user, changelist, field, query):
    client = hostile_client()
    client.force_login(admin_user)
    response = client.get(f"{changelist}?{query.format(f=field)}")
    assert response.status_code in (302, 400), (changelist, query, response.status_code)
    if response.status_code == 302:
        assert response["Location"].endswith("?e=1")  # Django's own answer to a bad changelist filter


def test_the_admin_has_date_drill_downs_to_check():
    assert len(date_drilldowns()) >= 7  # audit, moods, ingest, patients, alerts, devices x2, axes x3
