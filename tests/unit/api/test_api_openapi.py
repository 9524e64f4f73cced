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


def test_docs_page_is_swagger_ui_served_from_here(unit_app):
    client = unit_app.test_client()
    resp = client.get("/api/docs")
    assert resp.status_code == 200 and b"/api/openapi.json" in resp.data
    csp = resp.headers["Content-Security-Policy"]
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )
    for src in ("/api/docs/assets/swagger-ui-bundle.js", "/api/docs/init.js"):
        assert f'src="{src}"'.encode() in resp.data
        script = client.get(src)
        assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert b"SwaggerUIBundle" in client.get("/api/docs/assets/swagger-ui-bundle.js").data
    assert client.get("/api/docs/assets/swagger-ui.css").mimetype == "text/css"
    assert client.get("/api/docs/assets/../docs.html").status_code == 404


def test_the_asyncapi_document_is_served(unit_app):
    resp = unit_app.test_client().get("/api/asyncapi.json")
    assert resp.status_code == 200 and resp.get_json()["asyncapi"] == "3.0.0"
    assert "commandStatus" in resp.get_json()["channels"]
