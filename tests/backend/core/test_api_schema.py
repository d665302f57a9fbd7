"""The OpenAPI schema at /api/v1/schema/ and the docs at /api/v1/docs/."""


def test_the_schema_describes_the_device_and_clinician_api(client, db):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    paths = set(schema["paths"])
    assert {
        "/api/v1/devices/enroll/", "/api/v1/frame-batches/", "/api/v1/frame-batches/{batch_id}/",
        "/api/v1/patients/", "/api/v1/patients/{patient_id}/moods/", "/api/v1/patients/{patient_id}/mood-summary/",
    } <= paths
    upload = schema["paths"]["/api/v1/frame-batches/"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert {"202", "200", "400", "401", "403", "409"} <= set(upload["responses"])
    assert "deviceToken" in schema["components"]["securitySchemes"]


def test_the_browsable_docs_are_served(client, db):
    assert client.get("/api/v1/docs/").status_code == 200


def test_every_operation_documents_the_web_servers_html_414_for_an_overlong_url(client, db):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operations = [op for item in schema["paths"].values() for op in item.values() if isinstance(op, dict)]
    assert operations
    for operation in operations:
        assert set(operation["responses"]["414"]["content"]) == {"text/html"}
