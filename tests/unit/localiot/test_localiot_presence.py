"""Presence: mosquitto's log lines become AWS lifecycle events."""

from __future__ import annotations

import json

import pytest
from msm_localiot.presence import (
    ClientIdPolicy,
    Connected,
    Disconnected,
    PresenceTracker,
    parse_log_line,
)

T = 1_795_000_000_000
# Certificates localiot issued (CN -> thing), as its certificate store answers.
THINGS = {"abc": "meter-1", "u": "m", "device-cn": "m"}


def make_tracker() -> PresenceTracker:
    return PresenceTracker(ClientIdPolicy(THINGS.get))


LINES = [
    pytest.param(
        "1795731658: New client connected from 127.0.0.1:56481 as meter-1 (p5, c1, k60, u'abc').",
        Connected("meter-1", "127.0.0.1:56481", "abc"),
        id="connected, MQTT 5",
    ),
    pytest.param(
        "New client connected from 127.0.0.1:41915 as m:2_x (p2, c0, k5, u'claim').",
        Connected("m:2_x", "127.0.0.1:41915", "claim"),
        id="connected, MQTT 3.1.1, no timestamp prefix",
    ),
    pytest.param(
        "1: New client connected from 127.0.0.1:1 as anon (p2, c1, k60).",
        Connected("anon", "127.0.0.1:1", None),
        id="connected without a username",
    ),
    pytest.param("1: New connection from 127.0.0.1:52255 on port 8883.", None, id="tcp accept"),
    pytest.param(
        "1: Client connection from 127.0.0.1 failed: error:0A0000C7:SSL routines::peer did not"
        " return a certificate.",
        None,
        id="TLS failure before any client id",
    ),
    pytest.param("1: mosquitto version 2.0.11 running", None, id="other notice"),
]


@pytest.mark.parametrize(("line", "expected"), LINES)
def test_log_lines_are_read_as_connects_and_disconnects(line: str, expected: object) -> None:
    assert parse_log_line(line) == expected


# mosquitto's lines about meter-1 going away -> the disconnectReason AWS reports.
DISCONNECT_LINES = {
    "1795731658: Client meter-1 disconnected.": "CLIENT_INITIATED_DISCONNECT",
    "1795731660: Client meter-1 closed its connection.": "CONNECTION_LOST",
    "1: Socket error on client meter-1, disconnecting.": "CONNECTION_LOST",
    "1: Client meter-1 has exceeded timeout, disconnecting.": "MQTT_KEEP_ALIVE_TIMEOUT",
    "1: Client meter-1 already connected, closing old connection.": "DUPLICATE_CLIENTID",
    "1: Client meter-1 disconnected due to protocol error.": "CLIENT_ERROR",
    "1: Client meter-1 disconnected: Protocol error.": "CLIENT_ERROR",
}


@pytest.mark.parametrize(("line", "reason"), DISCONNECT_LINES.items())
def test_disconnect_lines_are_read_with_the_reason_aws_reports(line: str, reason: str) -> None:
    assert parse_log_line(line) == Disconnected("meter-1", reason)


def payload(event: object) -> dict[str, object]:
    return json.loads(event.to_payload())  # type: ignore[attr-defined]


def test_connect_then_disconnect_are_aws_lifecycle_events() -> None:
    tracker = make_tracker()
    [connected] = tracker.observe(Connected("meter-1", "127.0.0.1:5000", "abc"), T)
    [disconnected] = tracker.observe(Disconnected("meter-1", "CONNECTION_LOST"), T + 5)
    up, down = payload(connected), payload(disconnected)
    assert up == {
        "clientId": "meter-1",
        "timestamp": T,
        "eventType": "connected",
        "sessionIdentifier": up["sessionIdentifier"],
        "principalIdentifier": "abc",
        "versionNumber": T,
        "ipAddress": "127.0.0.1",
    }
    assert down == {
        "clientId": "meter-1",
        "timestamp": T + 5,
        "eventType": "disconnected",
        "sessionIdentifier": up["sessionIdentifier"],
        "principalIdentifier": "abc",
        "versionNumber": T,
        "disconnectReason": "CONNECTION_LOST",
    }


def test_version_number_grows_with_every_session_of_a_client() -> None:
    tracker = make_tracker()
    versions = []
    for _ in range(3):  # three sessions within the same millisecond
        [event] = tracker.observe(Connected("m", "1.2.3.4:1", "u"), T)
        versions.append(payload(event)["versionNumber"])
        tracker.observe(Disconnected("m", "CLIENT_INITIATED_DISCONNECT"), T)
    assert versions == [T, T + 1, T + 2]


def test_take_over_reports_the_old_session_as_duplicate_client_id() -> None:
    tracker = make_tracker()
    tracker.observe(Connected("m", "1.2.3.4:1", "u"), T)
    [old] = tracker.observe(Disconnected("m", "DUPLICATE_CLIENTID"), T + 1)
    [new] = tracker.observe(Connected("m", "1.2.3.4:2", "u"), T + 1)
    assert payload(old)["disconnectReason"] == "DUPLICATE_CLIENTID"
    assert payload(new)["eventType"] == "connected"
    assert payload(new)["versionNumber"] > payload(old)["versionNumber"]


def test_a_missed_take_over_line_still_closes_the_old_session() -> None:
    tracker = make_tracker()
    tracker.observe(Connected("m", "1.2.3.4:1", "u"), T)
    events = tracker.observe(Connected("m", "1.2.3.4:2", "u"), T + 1)
    assert [payload(e)["eventType"] for e in events] == ["disconnected", "connected"]


def test_our_own_kick_is_reported_as_server_initiated_and_our_session_is_silent() -> None:
    tracker = make_tracker()
    tracker.observe(Connected("m", "1.2.3.4:1", "device-cn"), T)
    assert tracker.clients_of("device-cn") == ["m"]
    tracker.expect_kick("m")
    [dropped] = tracker.observe(Disconnected("m", "DUPLICATE_CLIENTID"), T + 1)
    assert payload(dropped)["disconnectReason"] == "SERVER_INITIATED_DISCONNECT"
    assert tracker.observe(Connected("m", "127.0.0.1:9", "localiot"), T + 1) == []
    assert tracker.observe(Disconnected("m", "CLIENT_INITIATED_DISCONNECT"), T + 2) == []
    assert tracker.clients_of("device-cn") == []
    # The next real session of that client id is reported again.
    assert len(tracker.observe(Connected("m", "1.2.3.4:3", "device-cn"), T + 3)) == 1


@pytest.mark.parametrize("client_id", ["a/b", "a+b", "a#"])
def test_client_ids_that_cannot_be_a_topic_level_are_skipped(client_id: str) -> None:
    tracker = make_tracker()
    assert tracker.observe(Connected(client_id, "1.2.3.4:1", "u"), T) == []


def test_a_disconnect_without_a_known_session_is_silent() -> None:
    assert PresenceTracker().observe(Disconnected("ghost", "CONNECTION_LOST"), T) == []


@pytest.mark.parametrize(
    ("username", "why"),
    [
        ("claim", "the claim certificate may connect only as provision-*"),
        ("other-cn", "another device's certificate"),
        ("meter-2", "a device (CN = its thing) with another meter's client id"),
        (None, "no certificate identity"),
    ],
)
def test_a_connection_with_a_client_id_not_its_own_makes_no_presence(
    username: str | None, why: str
) -> None:
    tracker = PresenceTracker(ClientIdPolicy({**THINGS, "other-cn": "meter-9"}.get))
    [up] = tracker.observe(Connected("meter-1", "1.2.3.4:1", "abc"), T)
    # The impostor takes the session over: the meter's real disconnect is reported, the
    # impostor's connect (and later disconnect) are not -- AWS would have refused it.
    events = tracker.observe(Connected("meter-1", "6.6.6.6:1", username), T + 1)
    assert [payload(e)["eventType"] for e in events] == ["disconnected"], why
    assert payload(events[0])["sessionIdentifier"] == payload(up)["sessionIdentifier"]
    assert tracker.observe(Disconnected("meter-1", "CLIENT_INITIATED_DISCONNECT"), T + 2) == []
    # The meter's own reconnect is reported again.
    [back] = tracker.observe(Connected("meter-1", "1.2.3.4:2", "abc"), T + 3)
    assert payload(back)["eventType"] == "connected"


def test_the_claim_certificate_as_provision_client_and_services_are_reported() -> None:
    tracker = make_tracker()
    assert len(tracker.observe(Connected("provision-1a2b", "1.2.3.4:1", "claim"), T)) == 1
    assert len(tracker.observe(Connected("msm-ingest-0", "1.2.3.4:2", "ingest"), T)) == 1
    assert len(tracker.observe(Connected("meter-7", "1.2.3.4:3", "loadgen"), T)) == 1
    assert len(tracker.observe(Connected("meter-8", "1.2.3.4:4", "meter-8"), T)) == 1
