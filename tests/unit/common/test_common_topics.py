from __future__ import annotations

import pytest
from msm_common import topics
from msm_common.contracts import CommandType, ContractError, TopicError
from msm_common.topics import (
    ParsedTopic,
    PresenceEventType,
    ProvisioningOp,
    ProvisioningResult,
    ShadowOp,
    ShadowSuffix,
    ThingEventType,
    TopicKind,
)


def shadow(
    op: ShadowOp, suffix: ShadowSuffix | None = None, name: str | None = None
) -> ParsedTopic:
    """A shadow topic of the thing `d`."""
    return ParsedTopic(TopicKind.SHADOW, "d", shadow_op=op, shadow_suffix=suffix, shadow_name=name)


def presence(event: PresenceEventType, client_id: str, *, device_uuid: str | None) -> ParsedTopic:
    """A lifecycle event: the device is the client id only where that is a valid thing name."""
    return ParsedTopic(TopicKind.PRESENCE, device_uuid, presence_event=event, client_id=client_id)


VALID = [
    ("msm/dev-1/telemetry", ParsedTopic(TopicKind.TELEMETRY, "dev-1")),
    ("msm/ESP90000005/device_info", ParsedTopic(TopicKind.DEVICE_INFO, "ESP90000005")),
    ("msm/a_b:c/reboot", ParsedTopic(TopicKind.COMMAND, "a_b:c", CommandType.REBOOT)),
    ("msm/d/ntp", ParsedTopic(TopicKind.COMMAND, "d", CommandType.NTP)),
    ("msm/d/mqtt", ParsedTopic(TopicKind.COMMAND, "d", CommandType.MQTT)),
    ("msm/d/sftp", ParsedTopic(TopicKind.COMMAND, "d", CommandType.SFTP)),
    ("$aws/things/d/shadow/update", shadow(ShadowOp.UPDATE)),
    ("$aws/things/d/shadow/update/delta", shadow(ShadowOp.UPDATE, ShadowSuffix.DELTA)),
    ("$aws/things/d/shadow/get/accepted", shadow(ShadowOp.GET, ShadowSuffix.ACCEPTED)),
    (
        "$aws/things/d/shadow/name/config/delete/rejected",
        shadow(ShadowOp.DELETE, ShadowSuffix.REJECTED, "config"),
    ),
    (
        "$aws/things/d/shadow/name/name/update/documents",
        shadow(ShadowOp.UPDATE, ShadowSuffix.DOCUMENTS, "name"),
    ),
    (
        "$aws/events/presence/connected/dev-1",
        presence(PresenceEventType.CONNECTED, "dev-1", device_uuid="dev-1"),
    ),
    (
        "$aws/events/presence/disconnected/msm ingest.1",
        presence(PresenceEventType.DISCONNECTED, "msm ingest.1", device_uuid=None),
    ),
    (
        "$aws/events/thing/dev-1/created",
        ParsedTopic(TopicKind.THING_EVENT, "dev-1", thing_event=ThingEventType.CREATED),
    ),
    (
        "$aws/certificates/create/json",
        ParsedTopic(TopicKind.PROVISIONING, provisioning_op=ProvisioningOp.CREATE_CERTIFICATE),
    ),
    (
        "$aws/certificates/create-from-csr/json/accepted",
        ParsedTopic(
            TopicKind.PROVISIONING,
            provisioning_op=ProvisioningOp.CREATE_FROM_CSR,
            provisioning_result=ProvisioningResult.ACCEPTED,
        ),
    ),
    (
        "$aws/provisioning-templates/msm-fleet/provision/json/rejected",
        ParsedTopic(
            TopicKind.PROVISIONING,
            provisioning_op=ProvisioningOp.PROVISION,
            provisioning_result=ProvisioningResult.REJECTED,
            template_name="msm-fleet",
        ),
    ),
]


@pytest.mark.parametrize(("topic", "expected"), VALID, ids=[t for t, _ in VALID])
def test_parse_valid_topics(topic: str, expected: ParsedTopic) -> None:
    assert topics.parse(topic) == expected


INVALID = [
    "",
    "msm",
    "msm/dev-1",
    "msm//telemetry",
    "msm/+/telemetry",
    "msm/#",
    "msm/dev-1/telemetry/extra",
    "msm/dev-1/unknown",
    "msm/dev 1/telemetry",
    "msm/dév/telemetry",
    "msm/" + "x" * 129 + "/telemetry",
    "MSM/dev-1/telemetry",
    "/msm/dev-1/telemetry",
    "$share/ingest/msm/dev-1/telemetry",
    "$aws/things/d/shadow",
    "$aws/things/d/shadow/update/bogus",
    "$aws/things/d/shadow/get/delta",
    "$aws/things/d/shadow/delete/documents",
    "$aws/things/d/shadow/name/update",
    "$aws/things/d/shadow/name/bad name/update",
    "$aws/things/d/shadow/update/accepted/more",
    "$aws/things/d/notshadow/update",
    "$aws/things/+/shadow/update",
    "$aws/events/presence/connected",
    "$aws/events/presence/reconnected/dev-1",
    "$aws/events/presence/connected/dev+1",
    "$aws/events/presence/+/+",
    "$aws/events/presence/connected/dev-1/x",
    "$aws/events/thing/dev-1/renamed",
    "$aws/events/thing/dev-1",
    "$aws/events/certificate/c/created",
    "$aws/certificates/create/cbor",
    "$aws/certificates/create/json/maybe",
    "$aws/certificates/delete/json",
    "$aws/provisioning-templates/bad.name/provision/json",
    "$aws/provisioning-templates/t/provision/cbor",
    "$aws/provisioning-templates/t/provision",
    "$aws/unknown/a/b",
    "$SYS/broker/log/N",
    "x" * 600,
]


@pytest.mark.parametrize("topic", INVALID)
def test_parse_rejects_topics_outside_the_contract(topic: str) -> None:
    with pytest.raises(TopicError) as info:
        topics.parse(topic)
    assert info.value.reason == "unknown_topic"
    assert isinstance(info.value, ContractError)
    assert isinstance(info.value, ValueError)


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(TopicError):
        topics.parse(b"msm/dev-1/telemetry")  # type: ignore[arg-type]


def test_builders_round_trip_through_parse() -> None:
    built = [
        topics.telemetry("dev-1"),
        topics.device_info("dev-1"),
        *(topics.command("dev-1", t) for t in CommandType),
        topics.shadow("dev-1", "update"),
        topics.shadow("dev-1", ShadowOp.UPDATE, ShadowSuffix.DELTA, name="cfg"),
        topics.shadow("dev-1", "get", "accepted"),
        topics.presence("dev-1", "connected"),
        topics.presence("dev-1", PresenceEventType.DISCONNECTED),
        topics.thing_event("dev-1"),
        topics.create_certificate(),
        topics.create_certificate("accepted"),
        topics.create_certificate_from_csr("rejected"),
        topics.provision("msm-fleet"),
        topics.provision("msm-fleet", ProvisioningResult.ACCEPTED),
    ]
    assert built[:3] == ["msm/dev-1/telemetry", "msm/dev-1/device_info", "msm/dev-1/reboot"]
    assert topics.shadow("dev-1", "update", "delta", name="cfg") == (
        "$aws/things/dev-1/shadow/name/cfg/update/delta"
    )
    assert topics.presence("c", "connected") == "$aws/events/presence/connected/c"
    assert topics.thing_event("t") == "$aws/events/thing/t/created"
    assert topics.create_certificate_from_csr() == "$aws/certificates/create-from-csr/json"
    assert topics.provision("T", "accepted") == (
        "$aws/provisioning-templates/T/provision/json/accepted"
    )
    for topic in built:
        topics.parse(topic)


@pytest.mark.parametrize(
    "build",
    [
        lambda: topics.telemetry("+"),
        lambda: topics.telemetry("#"),
        lambda: topics.telemetry("a/b"),
        lambda: topics.telemetry(""),
        lambda: topics.device_info("x" * 129),
        lambda: topics.command("dev-1", "firmware"),
        lambda: topics.shadow("dev-1", "get", "delta"),
        lambda: topics.shadow("dev-1", "patch"),
        lambda: topics.shadow("dev-1", "update", name="a/b"),
        lambda: topics.presence("a/b", "connected"),
        lambda: topics.presence("dev-1", "online"),
        lambda: topics.thing_event("dev-1", "renamed"),
        lambda: topics.create_certificate("maybe"),
        lambda: topics.provision("bad/template"),
        lambda: topics.shared_subscription("msm/+/telemetry", "a/b"),
        lambda: topics.shared_subscription("msm/+/telemetry", ""),
        lambda: topics.shared_subscription("$share/g/msm/+/telemetry", "g"),
    ],
)
def test_builders_reject_bad_segments(build) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TopicError) as info:
        build()
    assert info.value.reason == "invalid_topic_segment"


def test_thing_name_limits() -> None:
    assert topics.parse(topics.telemetry("x" * 128)).device_uuid == "x" * 128
    assert topics.parse("msm/A-z_0:9/telemetry").thing == "A-z_0:9"


def test_ingest_filters_and_shared_subscription() -> None:
    assert topics.INGEST_FILTERS == (
        "msm/+/telemetry",
        "msm/+/device_info",
        "msm/+/reboot",
        "msm/+/ntp",
        "msm/+/mqtt",
        "msm/+/sftp",
        "$aws/events/presence/+/+",
    )
    assert topics.command_filter("ntp") == "msm/+/ntp"
    assert topics.shared_subscription(topics.TELEMETRY_FILTER, "ingest") == (
        "$share/ingest/msm/+/telemetry"
    )
    assert topics.shared_subscription(topics.TELEMETRY_FILTER, None) == "msm/+/telemetry"


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("msm/+/telemetry", "msm/dev-1/telemetry", True),
        ("msm/+/telemetry", "msm/dev-1/device_info", False),
        ("msm/+/telemetry", "msm/dev-1/telemetry/x", False),
        ("msm/#", "msm/dev-1/telemetry", True),
        ("msm/#", "msm", True),
        ("$aws/events/presence/+/+", "$aws/events/presence/connected/d", True),
        ("$aws/things/+/shadow/#", "$aws/things/d/shadow/name/n/update", True),
        ("#", "$aws/things/d/shadow/update", False),
        ("+/things/d/shadow/update", "$aws/things/d/shadow/update", False),
    ],
)
def test_matches(topic_filter: str, topic: str, expected: bool) -> None:
    assert topics.matches(topic_filter, topic) is expected


def test_every_ingest_filter_matches_what_the_builders_make() -> None:
    made = [
        topics.telemetry("d"),
        topics.device_info("d"),
        *(topics.command("d", t) for t in CommandType),
        topics.presence("d", "connected"),
        topics.presence("d", "disconnected"),
    ]
    for topic in made:
        assert any(topics.matches(f, topic) for f in topics.INGEST_FILTERS), topic
