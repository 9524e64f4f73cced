"""One shadow store, served over MQTT and over the iot-data HTTP API, surviving a restart."""

from __future__ import annotations

import json
from typing import Any

import awscrt.mqtt_request_response
import boto3
import pytest
from awsiot import iotshadow
from localiot_support import TIMEOUT, RecordingPublisher, SdkDevice
from msm_localiot.bootstrap import bootstrap
from msm_localiot.shadow.store import ShadowKey
from support.services import Endpoints

pytestmark = pytest.mark.integration


def shadow_topic(thing: str, rest: str, name: str | None = None) -> str:
    named = f"/name/{name}" if name else ""
    return f"$aws/things/{thing}/shadow{named}/{rest}"


def test_mqtt_and_http_see_one_shadow(
    localiot: Any, endpoints: Endpoints, iot_data: Any, listener: Any, serial: str
) -> None:
    replies = listener(shadow_topic(serial, "#"))
    backend = replies.connection

    # A device reports over MQTT ...
    backend.publish(
        shadow_topic(serial, "update"),
        json.dumps({"state": {"reported": {"fw": "1.0"}}, "clientToken": "t-1"}).encode(),
    )
    _, accepted = replies.wait_for(
        lambda t, p: t.endswith("/update/accepted") and p["version"] == 1
    )
    assert accepted["clientToken"] == "t-1"
    assert accepted["version"] == 1

    # ... the backend reads it over HTTP and writes desired ...
    document = json.loads(iot_data.get_thing_shadow(thingName=serial)["payload"].read())
    assert document["state"] == {"reported": {"fw": "1.0"}}
    iot_data.update_thing_shadow(
        thingName=serial, payload=json.dumps({"state": {"desired": {"fw": "1.1"}}})
    )
    _, delta = replies.wait_for(lambda t, _p: t.endswith("/update/delta"))
    assert delta["state"] == {"fw": "1.1"}
    _, documents = replies.wait_for(
        lambda t, p: t.endswith("/update/documents") and p["current"]["version"] == 2
    )
    assert documents["previous"]["state"] == {"reported": {"fw": "1.0"}}

    # ... and a get over MQTT answers the same document.
    backend.publish(shadow_topic(serial, "get"), json.dumps({"clientToken": "g"}).encode())
    _, got = replies.wait_for(lambda t, _p: t.endswith("/get/accepted"))
    assert got["state"] == {
        "desired": {"fw": "1.1"},
        "reported": {"fw": "1.0"},
        "delta": {"fw": "1.1"},
    }
    assert (got["version"], got["clientToken"]) == (2, "g")

    # A stale version is a conflict both ways.
    stale = {"state": {"reported": {"fw": "1.1"}}, "version": 1, "clientToken": "old"}
    backend.publish(shadow_topic(serial, "update"), json.dumps(stale).encode())
    _, rejected = replies.wait_for(lambda t, _p: t.endswith("/update/rejected"))
    assert {k: rejected[k] for k in ("code", "message", "clientToken")} == {
        "code": 409,
        "message": "Version conflict",
        "clientToken": "old",
    }
    with pytest.raises(iot_data.exceptions.ConflictException):
        iot_data.update_thing_shadow(thingName=serial, payload=json.dumps(stale))

    # Delete over HTTP, seen over MQTT; the version survives.
    deleted = json.loads(iot_data.delete_thing_shadow(thingName=serial)["payload"].read())
    assert deleted["version"] == 2
    replies.wait_for(lambda t, _p: t.endswith("/delete/accepted"))
    with pytest.raises(iot_data.exceptions.ResourceNotFoundException):
        iot_data.get_thing_shadow(thingName=serial)
    again = iot_data.update_thing_shadow(
        thingName=serial, payload=json.dumps({"state": {"reported": {"fw": "1.1"}}})
    )
    assert json.loads(again["payload"].read())["version"] == 3


def test_the_sdks_request_response_shadow_client_works_on_named_shadows(
    localiot: Any, endpoints: Endpoints, iot_data: Any, serial: str
) -> None:
    """IotShadowClientV2 matches answers to requests by clientToken: it needs it echoed."""
    device = SdkDevice.connect(
        endpoints.pki("loadgen.crt"), endpoints.pki("loadgen.key"), endpoints.pki("ca.crt"), serial
    )
    try:
        client = iotshadow.IotShadowClientV2(
            device.client,
            awscrt.mqtt_request_response.ClientOptions(
                max_request_response_subscriptions=4,
                max_streaming_subscriptions=2,
                operation_timeout_in_seconds=10,
            ),
        )
        updated = client.update_named_shadow(
            iotshadow.UpdateNamedShadowRequest(
                thing_name=serial,
                shadow_name="config",
                state=iotshadow.ShadowState(desired={"ntp": "pool.ntp.org"}),
            )
        ).result(TIMEOUT)
        assert updated.version == 1
        got = client.get_named_shadow(
            iotshadow.GetNamedShadowRequest(thing_name=serial, shadow_name="config")
        ).result(TIMEOUT)
        assert got.state.desired == {"ntp": "pool.ntp.org"}
        assert got.state.delta == {"ntp": "pool.ntp.org"}
        with pytest.raises(Exception, match="404"):
            client.get_shadow(iotshadow.GetShadowRequest(thing_name=serial)).result(TIMEOUT)
    finally:
        device.stop()
    names = iot_data.list_named_shadows_for_thing(thingName=serial)["results"]
    assert names == ["config"]
    document = iot_data.get_thing_shadow(thingName=serial, shadowName="config")
    assert json.loads(document["payload"].read())["state"]["desired"] == {"ntp": "pool.ntp.org"}


def test_shadows_survive_a_restart(localiot: Any, mongo_db: Any, serial: str) -> None:
    settings = localiot.model_copy(update={"localiot_http_listen": "127.0.0.1:0"})

    def start() -> tuple[Any, Any]:
        app = bootstrap(settings, mongo_db=mongo_db, publisher=RecordingPublisher()).start()
        client = boto3.client(
            "iot-data",
            endpoint_url=f"http://127.0.0.1:{app.http.port}",
            region_name=settings.aws_region,
        )
        return app, client

    first, client = start()
    try:
        client.update_thing_shadow(
            thingName=serial, payload=json.dumps({"state": {"desired": {"interval": 60}}})
        )
        client.update_thing_shadow(
            thingName=serial,
            shadowName="sftp",
            payload=json.dumps({"state": {"reported": {"host": "10.0.0.5"}}}),
        )
    finally:
        first.stop()

    second, client = start()
    try:
        document = json.loads(client.get_thing_shadow(thingName=serial)["payload"].read())
        assert document["state"] == {"desired": {"interval": 60}, "delta": {"interval": 60}}
        assert document["version"] == 1
        named = client.get_thing_shadow(thingName=serial, shadowName="sftp")
        assert json.loads(named["payload"].read())["state"]["reported"] == {"host": "10.0.0.5"}
        answer = client.update_thing_shadow(
            thingName=serial, payload=json.dumps({"state": {"reported": {"interval": 60}}})
        )
        assert json.loads(answer["payload"].read())["version"] == 2
        assert second.shadows.current(ShadowKey(serial)) is not None
    finally:
        second.stop()
