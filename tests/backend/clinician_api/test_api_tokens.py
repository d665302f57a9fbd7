"""Clinician API tokens are stored as digests only (as device tokens are): a stolen database row or
an admin page does not give away a working token, and a guessed or forged one is a 401."""
import importlib
import secrets

import pytest
from django.core.management import call_command
from django.db import connection

from backend.clinician_api.models import ApiToken
from backend.clinician_api.services import api_token_issue

URL = "/api/v1/patients/"


def get(client, token):
    return client.get(URL, HTTP_AUTHORIZATION=f"Token {token}")


def test_the_token_works_and_nothing_in_the_database_contains_its_secret(client, clinician, patient):
    token = api_token_issue(user=clinician)
    assert get(client, token).status_code == 200
    row = ApiToken.objects.values().get(user=clinician)
    secret = token.partition(".")[2]
    assert len(secret) >= 32
    assert not any(secret in str(value) for value in row.values()), row


def test_the_stored_digest_and_lookup_id_are_not_credentials(client, clinician, patient):
    api_token_issue(user=clinician)
    row = ApiToken.objects.get(user=clinician)
    for forged in (row.digest, row.lookup_id, f"{row.lookup_id}.{row.digest}", f"{row.lookup_id}."):
        response = get(client, forged)
        assert response.status_code == 401, forged
        assert response.json()["code"] == "authentication_failed"


def test_a_wrong_secret_behind_a_real_lookup_id_is_refused(client, clinician, patient):
    token = api_token_issue(user=clinician)
    lookup_id = token.partition(".")[0]
    assert get(client, f"{lookup_id}.{secrets.token_urlsafe(32)}").status_code == 401


def test_issuing_a_new_token_revokes_the_old_one(client, clinician, patient):
    old = api_token_issue(user=clinician)
    new = api_token_issue(user=clinician)
    assert get(client, old).status_code == 401
    assert get(client, new).status_code == 200


def test_a_deactivated_users_token_is_refused(client, clinician, patient):
    token = api_token_issue(user=clinician)
    clinician.is_active = False
    clinician.save()
    assert get(client, token).status_code == 401


def test_the_admin_list_shows_only_the_lookup_id_never_the_token(admin_web, clinician):
    token = api_token_issue(user=clinician)
    page = admin_web.get("/admin/clinician_api/apitoken/").content.decode()
    assert token.partition(".")[0] in page
    assert token.partition(".")[2] not in page
    assert ApiToken.objects.get(user=clinician).digest not in page


def test_the_admin_issues_a_token_once_and_it_works(admin_web, client, clinician, patient):
    response = admin_web.post("/admin/clinician_api/apitoken/add/", {"user": clinician.pk}, follow=True)
    shown = [str(m) for m in response.context["messages"] if "shown once" in str(m)]
    token = shown[0].rsplit(" ", 1)[-1]
    assert get(client, token).status_code == 200
    assert token not in admin_web.get("/admin/clinician_api/apitoken/").content.decode()


def test_the_command_prints_a_working_token(client, clinician, patient, capsys):
    call_command("api_token", clinician.username)
    assert get(client, capsys.readouterr().out.strip()).status_code == 200


@pytest.mark.skipif(connection.vendor != "postgresql", reason="recreates DRF's PostgreSQL table")
def test_the_migration_hashes_drf_clear_keys_which_keep_working_and_drops_the_table(client, clinician, patient):
    key = secrets.token_hex(20)  # what DRF's authtoken stored, in clear
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamptz, user_id int)")
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, now(), %s)", [key, clinician.pk])
    migration = importlib.import_module("backend.clinician_api.migrations.0002_hash_drf_tokens")
    from django.apps import apps
    with connection.schema_editor() as editor:
        migration.hash_drf_tokens(apps, editor)
    assert "authtoken_token" not in connection.introspection.table_names()
    assert key not in str(list(ApiToken.objects.values()))
    assert get(client, key).status_code == 200
    assert get(client, key[:12] + "0" * 28).status_code == 401
