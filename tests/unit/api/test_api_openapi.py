from __future__ import annotations

from openapi_spec_validator import validate


def test_openapi_document_is_valid_3_1(unit_app):
    doc = unit_app.test_client().get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_openapi_uses_the_request_models(unit_app):
    doc = unit_app.test_client().get("/api/openapi.json").get_json()
    mqtt = doc["paths"]["/api/devices/{device_uuid}/mqtt"]["post"]
    ref = mqtt["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert schema["additionalProperties"] is False
    assert {"broker_ip", "broker_port", "broker_password"} <= set(schema["properties"])
    assert mqtt["x-permission"] == "devices:command" and "202" in mqtt["responses"]
    params = {p["name"] for p in doc["paths"]["/api/telemetry"]["get"]["parameters"]}
    wanted = {"device_uuid", "channel_id", "phase", "from", "to", "interval", "limit", "cursor"}
    assert wanted <= params
    assert doc["paths"]["/api/auth/login"]["post"]["security"] == []


def test_docs_page_is_served(unit_app):
    resp = unit_app.test_client().get("/api/docs")
    assert resp.status_code == 200 and b"/api/openapi.json" in resp.data
