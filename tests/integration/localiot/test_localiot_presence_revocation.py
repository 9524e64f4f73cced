"""Presence events from what mosquitto reports, and a deactivated certificate locked out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from localiot_support import ConnectFailed, SdkDevice
from support.services import Endpoints
from support.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("clean", "reason"),
    [(True, "CLIENT_INITIATED_DISCONNECT"), (False, "CONNECTION_LOST")],
    ids=["disconnect packet", "connection dropped"],
)
def test_connect_and_disconnect_are_published_as_aws_lifecycle_events(
    localiot: Any, endpoints: Endpoints, listener: Any, serial: str, clean: bool, reason: str
) -> None:
    events = listener(f"$aws/events/presence/+/{serial}")
    device = SdkDevice.connect(
        endpoints.pki("loadgen.crt"), endpoints.pki("loadgen.key"), endpoints.pki("ca.crt"), serial
    )
    _, connected = events.wait_for(lambda t, _p: t == f"$aws/events/presence/connected/{serial}")
    device.stop(clean=clean)
    _, gone = events.wait_for(lambda t, _p: t == f"$aws/events/presence/disconnected/{serial}")

    assert connected["clientId"] == serial
    assert connected["eventType"] == "connected"
    assert connected["principalIdentifier"] == "loadgen"
    assert connected["ipAddress"] == "127.0.0.1"
    assert isinstance(connected["timestamp"], int) and connected["timestamp"] > 1_600_000_000_000
    assert gone["eventType"] == "disconnected"
    assert gone["disconnectReason"] == reason
    assert gone["versionNumber"] == connected["versionNumber"]
    assert gone["sessionIdentifier"] == connected["sessionIdentifier"]
    assert gone["timestamp"] >= connected["timestamp"]


def test_a_deactivated_certificate_is_dropped_and_cannot_connect_again(
    localiot: Any, endpoints: Endpoints, iot: Any, listener: Any, serial: str, provisioned: Any
) -> None:
    device = provisioned(serial)
    events = listener(f"$aws/events/presence/+/{serial}")
    meter = SdkDevice.connect(device.cert, device.key, endpoints.pki("ca.crt"), serial)
    try:
        events.wait_for(lambda t, _p: t.endswith(f"/connected/{serial}"))
        iot.update_certificate(certificateId=device.certificate_id, newStatus="INACTIVE")

        # The open connection is dropped ...
        _, dropped = events.wait_for(
            lambda t, _p: t.endswith(f"/disconnected/{serial}"),
            timeout=localiot.localiot_cert_sync_interval_s + 30,
        )
        assert dropped["disconnectReason"] == "SERVER_INITIATED_DISCONNECT"
        assert not (
            Path(localiot.mosquitto_acl_dir) / f"localiot-{device.certificate_id}.acl"
        ).exists()
    finally:
        meter.stop()

    # ... and the certificate no longer gets through the TLS handshake.
    def refused() -> bool:
        try:
            SdkDevice.connect(
                device.cert, device.key, endpoints.pki("ca.crt"), f"{serial}-2"
            ).stop()
        except ConnectFailed:
            return True
        return False

    wait_for("the broker to refuse the revoked certificate", refused, timeout=10, interval=0.2)


def test_a_claim_or_other_device_certificate_with_a_meters_client_id_makes_no_presence(
    localiot: Any,
    endpoints: Endpoints,
    listener: Any,
    serial: str,
    provisioned: Any,
    issue_device_cert: Any,
) -> None:
    """AWS's claim and device policies refuse such a connection; localiot reports none of it."""
    device = provisioned(serial)
    other_cert, other_key = issue_device_cert(f"{serial}-other")
    events = listener(f"$aws/events/presence/+/{serial}")
    impostors = [
        (endpoints.pki("claim.crt"), endpoints.pki("claim.key")),
        (other_cert, other_key),
    ]
    for cert, key in impostors:
        SdkDevice.connect(cert, key, endpoints.pki("ca.crt"), serial).stop()
    # The meter's own connection is reported; nothing before it was.
    meter = SdkDevice.connect(device.cert, device.key, endpoints.pki("ca.crt"), serial)
    try:
        _, up = events.wait_for(lambda t, _p: t.endswith(f"/connected/{serial}"))
    finally:
        meter.stop()
    connects = [p for t, p in events.seen if t.endswith(f"/connected/{serial}")]
    assert [c["principalIdentifier"] for c in connects] == [up["principalIdentifier"]]
    assert up["principalIdentifier"] not in ("claim", f"{serial}-other")
