"""The iot-data HTTP wire format, read back the way botocore reads it (no sockets)."""

from __future__ import annotations

import json
from typing import Any

import botocore.parsers
import botocore.session
import pytest
from localiot_fakes import RecordingPublisher
from msm_localiot.http_side import IotDataApp
from msm_localiot.shadow.service import ShadowService
from msm_localiot.shadow.store import InMemoryShadowStore
from werkzeug.test import Client, TestResponse

NOW = 1_795_000_000
MODEL = botocore.session.get_session().get_service_model("iot-data")


class Api:
    def __init__(self) -> None:
        self.publisher = RecordingPublisher()
        self.client = Client(
            IotDataApp(
                ShadowService(InMemoryShadowStore(), lambda: NOW), self.publisher, lambda: NOW
            )
        )

    def update(self, thing: str, doc: Any, name: str | None = None) -> TestResponse:
        return self.client.post(
            f"/things/{thing}/shadow", query_string=_q(name), data=json.dumps(doc).encode()
        )

    def get(self, thing: str, name: str | None = None) -> TestResponse:
        return self.client.get(f"/things/{thing}/shadow", query_string=_q(name))

    def delete(self, thing: str, name: str | None = None) -> TestResponse:
        return self.client.delete(f"/things/{thing}/shadow", query_string=_q(name))


def _q(name: str | None) -> dict[str, str]:
    return {"name": name} if name else {}


def boto_view(response: TestResponse, operation: str) -> dict[str, Any]:
    """What botocore makes of this response for `operation`."""
    parser = botocore.parsers.create_parser("rest-json")
    shape = MODEL.operation_model(operation).output_shape
    raw = {
        "status_code": response.status_code,
        "headers": {k.lower(): v for k, v in response.headers.items()},
        "body": response.get_data(),
    }
    return dict(parser.parse(raw, shape))


@pytest.fixture
def api() -> Api:
    return Api()


def test_update_returns_the_accepted_document_and_emits_the_mqtt_events(api: Api) -> None:
    response = api.update("meter-1", {"state": {"desired": {"ntp": "pool"}}, "clientToken": "c"})
    assert response.status_code == 200
    payload = json.loads(boto_view(response, "UpdateThingShadow")["payload"])
    assert payload == {
        "state": {"desired": {"ntp": "pool"}},
        "metadata": {"desired": {"ntp": {"timestamp": NOW}}},
        "version": 1,
        "timestamp": NOW,
        "clientToken": "c",
    }
    base = "$aws/things/meter-1/shadow/update"
    assert [t for t, _ in api.publisher.sent] == [
        f"{base}/accepted",
        f"{base}/documents",
        f"{base}/delta",
    ]
    assert api.publisher.json_on(f"{base}/delta")[0]["state"] == {"ntp": "pool"}


def test_a_reported_update_emits_no_delta(api: Api) -> None:
    api.update("meter-1", {"state": {"reported": {"ntp": "pool"}}})
    assert not any(t.endswith("/delta") for t, _ in api.publisher.sent)


ERRORS = [
    pytest.param(
        {"state": {"desired": {"a": 1}}, "version": 7},
        409,
        "ConflictException",
        "Version conflict",
        id="stale version",
    ),
    pytest.param(
        {"state": {"desired": {"a": "x" * 9000}}},
        413,
        "RequestEntityTooLargeException",
        "The payload exceeds the maximum size allowed",
        id="too large",
    ),
    pytest.param(
        {"nostate": 1},
        400,
        "InvalidRequestException",
        "Missing required node: state",
        id="invalid request",
    ),
]


@pytest.mark.parametrize(("doc", "status", "code", "message"), ERRORS)
def test_errors_reach_botocore_as_aws_exceptions(
    api: Api, doc: dict[str, Any], status: int, code: str, message: str
) -> None:
    api.update("meter-1", {"state": {"desired": {"a": 0}}})
    api.publisher.sent.clear()
    response = api.update("meter-1", doc)
    assert response.status_code == status
    error = boto_view(response, "UpdateThingShadow")["Error"]
    assert (error["Code"], error["Message"]) == (code, message)
    assert json.loads(response.get_data())["code"] == status
    assert api.publisher.sent == []  # no MQTT error for an HTTP request


def test_get_of_a_missing_shadow_is_resource_not_found(api: Api) -> None:
    error = boto_view(api.get("nobody"), "GetThingShadow")["Error"]
    assert error == {
        "Code": "ResourceNotFoundException",
        "Message": "No shadow exists with name: 'nobody'",
    }


def test_named_shadows_are_separate_and_listed(api: Api) -> None:
    api.update("meter-1", {"state": {"reported": {"a": 1}}})
    api.update("meter-1", {"state": {"desired": {"b": 2}}}, name="config")
    api.update("meter-1", {"state": {"desired": {"c": 3}}}, name="alarms")
    assert json.loads(api.get("meter-1", "config").get_data())["state"]["desired"] == {"b": 2}
    assert "desired" not in json.loads(api.get("meter-1").get_data())["state"]
    assert any(
        t == "$aws/things/meter-1/shadow/name/config/update/delta" for t, _ in api.publisher.sent
    )
    listing = api.client.get("/api/things/shadow/ListNamedShadowsForThing/meter-1")
    parsed = boto_view(listing, "ListNamedShadowsForThing")
    assert parsed["results"] == ["alarms", "config"]
    assert parsed["timestamp"] is not None


def test_delete_answers_the_version_and_announces_it(api: Api) -> None:
    api.update("meter-1", {"state": {"reported": {"a": 1}}})
    response = api.delete("meter-1")
    assert json.loads(response.get_data()) == {"version": 1, "timestamp": NOW}
    assert api.publisher.json_on("$aws/things/meter-1/shadow/delete/accepted") == [
        {"version": 1, "timestamp": NOW}
    ]
    assert api.get("meter-1").status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/things/bad%20name/shadow", "/things/meter-1/shadow?name=bad/name"],
)
def test_invalid_names_are_invalid_requests(api: Api, path: str) -> None:
    response = api.client.get(path)
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "InvalidRequestException"


def test_publish_goes_to_the_broker(api: Api) -> None:
    response = api.client.post(
        "/topics/msm%2Fmeter-1%2Freboot", query_string={"qos": "1"}, data=b"{}"
    )
    assert response.status_code == 200
    assert api.publisher.sent == [("msm/meter-1/reboot", b"{}")]
