"""Every MQTT topic MSM uses, built and parsed here and nowhere else.

Device topics are `msm/{uuid}/{telemetry|device_info|reboot|ntp|mqtt|sftp}` (commands and their
acks share a topic); the rest are AWS IoT Core's reserved `$aws/...` topics: device shadow,
lifecycle (presence) and registry events, fleet provisioning.
"""

from __future__ import annotations

import functools
import re
from enum import StrEnum
from typing import Final, NamedTuple, TypeVar

from msm_common.contracts.commands import CommandType
from msm_common.contracts.errors import INVALID_TOPIC_SEGMENT, UNKNOWN_TOPIC, TopicError
from msm_common.identifiers import SHADOW_NAME_RE as _SHADOW_NAME_RE
from msm_common.identifiers import THING_NAME_RE as _THING_RE

MAX_TOPIC_LENGTH: Final = 512
_TEMPLATE_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,36}")
_CLIENT_ID_RE: Final = re.compile(r"[^/+#\x00]{1,128}")
_GROUP_RE: Final = re.compile(r"[^/+#\x00]{1,64}")
_E = TypeVar("_E", bound=StrEnum)


class TopicKind(StrEnum):
    TELEMETRY = "telemetry"
    DEVICE_INFO = "device_info"
    COMMAND = "command"
    SHADOW = "shadow"
    PRESENCE = "presence"
    THING_EVENT = "thing_event"
    PROVISIONING = "provisioning"


class ShadowOp(StrEnum):
    UPDATE = "update"
    GET = "get"
    DELETE = "delete"


class ShadowSuffix(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DELTA = "delta"
    DOCUMENTS = "documents"


class PresenceEventType(StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


class ThingEventType(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


class ProvisioningOp(StrEnum):
    CREATE_CERTIFICATE = "create"
    CREATE_FROM_CSR = "create-from-csr"
    PROVISION = "provision"


class ProvisioningResult(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


_RESULTS: Final = frozenset({None, ShadowSuffix.ACCEPTED, ShadowSuffix.REJECTED})
SHADOW_SUFFIXES: Final[dict[ShadowOp, frozenset[ShadowSuffix | None]]] = {
    ShadowOp.UPDATE: _RESULTS | {ShadowSuffix.DELTA, ShadowSuffix.DOCUMENTS},
    ShadowOp.GET: _RESULTS,
    ShadowOp.DELETE: _RESULTS,
}

# Subscription filters.
TELEMETRY_FILTER: Final = "msm/+/telemetry"
DEVICE_INFO_FILTER: Final = "msm/+/device_info"
COMMAND_FILTERS: Final[dict[CommandType, str]] = {t: f"msm/+/{t.value}" for t in CommandType}
PRESENCE_FILTER: Final = "$aws/events/presence/+/+"
THING_CREATED_FILTER: Final = "$aws/events/thing/+/created"
SHADOW_FILTER: Final = "$aws/things/+/shadow/#"
INGEST_FILTERS: Final[tuple[str, ...]] = (
    TELEMETRY_FILTER,
    DEVICE_INFO_FILTER,
    *COMMAND_FILTERS.values(),
    PRESENCE_FILTER,
)


class ParsedTopic(NamedTuple):
    """What a topic names. `device_uuid` is the thing name wherever the topic carries one.

    Immutable; a NamedTuple because it is built for every message ingest receives.
    """

    kind: TopicKind
    device_uuid: str | None = None
    command_type: CommandType | None = None
    shadow_op: ShadowOp | None = None
    shadow_suffix: ShadowSuffix | None = None
    shadow_name: str | None = None
    presence_event: PresenceEventType | None = None
    client_id: str | None = None
    thing_event: ThingEventType | None = None
    provisioning_op: ProvisioningOp | None = None
    provisioning_result: ProvisioningResult | None = None
    template_name: str | None = None

    @property
    def thing(self) -> str | None:
        return self.device_uuid


# --- building ---------------------------------------------------------------------------------


def _segment(value: str, pattern: re.Pattern[str], what: str) -> str:
    if type(value) is not str or pattern.fullmatch(value) is None:
        raise TopicError(INVALID_TOPIC_SEGMENT, f"{value!r} is not a valid {what}", field=what)
    return value


def _member(enum: type[_E], value: _E | str, what: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        raise TopicError(INVALID_TOPIC_SEGMENT, f"{value!r} is not a {what}", field=what) from None


def telemetry(device_uuid: str) -> str:
    return f"msm/{_segment(device_uuid, _THING_RE, 'device uuid')}/telemetry"


def device_info(device_uuid: str) -> str:
    return f"msm/{_segment(device_uuid, _THING_RE, 'device uuid')}/device_info"


def command(device_uuid: str, command_type: CommandType | str) -> str:
    """The topic a command is published on, and its ack comes back on."""
    kind = _member(CommandType, command_type, "command type")
    return f"msm/{_segment(device_uuid, _THING_RE, 'device uuid')}/{kind.value}"


def command_filter(command_type: CommandType | str) -> str:
    return COMMAND_FILTERS[_member(CommandType, command_type, "command type")]


def shadow(
    thing: str,
    op: ShadowOp | str,
    suffix: ShadowSuffix | str | None = None,
    *,
    name: str | None = None,
) -> str:
    """`$aws/things/{thing}/shadow[/name/{name}]/{op}[/{suffix}]`."""
    shadow_op = _member(ShadowOp, op, "shadow operation")
    end = None if suffix is None else _member(ShadowSuffix, suffix, "shadow topic suffix")
    if end not in SHADOW_SUFFIXES[shadow_op]:
        raise TopicError(INVALID_TOPIC_SEGMENT, f"there is no shadow topic {op}/{suffix}")
    topic = f"$aws/things/{_segment(thing, _THING_RE, 'thing name')}/shadow"
    if name is not None:
        topic += f"/name/{_segment(name, _SHADOW_NAME_RE, 'shadow name')}"
    topic += f"/{shadow_op.value}"
    return topic if end is None else f"{topic}/{end.value}"


def presence(client_id: str, event: PresenceEventType | str) -> str:
    """`$aws/events/presence/{connected|disconnected}/{clientId}`."""
    event_type = _member(PresenceEventType, event, "presence event")
    return f"$aws/events/presence/{event_type}/{_segment(client_id, _CLIENT_ID_RE, 'client id')}"


def thing_event(thing: str, event: ThingEventType | str = ThingEventType.CREATED) -> str:
    """`$aws/events/thing/{thingName}/{created|updated|deleted}`."""
    event_type = _member(ThingEventType, event, "thing event")
    return f"$aws/events/thing/{_segment(thing, _THING_RE, 'thing name')}/{event_type}"


def _with_result(topic: str, result: ProvisioningResult | str | None) -> str:
    if result is None:
        return topic
    return f"{topic}/{_member(ProvisioningResult, result, 'provisioning result')}"


def create_certificate(result: ProvisioningResult | str | None = None) -> str:
    """`$aws/certificates/create/json[/accepted|/rejected]`."""
    return _with_result("$aws/certificates/create/json", result)


def create_certificate_from_csr(result: ProvisioningResult | str | None = None) -> str:
    """`$aws/certificates/create-from-csr/json[/accepted|/rejected]`."""
    return _with_result("$aws/certificates/create-from-csr/json", result)


def provision(template: str, result: ProvisioningResult | str | None = None) -> str:
    """`$aws/provisioning-templates/{template}/provision/json[/accepted|/rejected]`."""
    name = _segment(template, _TEMPLATE_RE, "template name")
    return _with_result(f"$aws/provisioning-templates/{name}/provision/json", result)


# Fleet provisioning on the local stand-in: AWS answers only the connection that asked, while
# mosquitto can address topics only. So a claim client `C` (client id `provision-...`, as the
# AWS claim policy requires) uses the AWS provisioning topics under `msm-local/claim/C/`, and
# the broker lets it read its own client id's subtree only (deploy/local/mosquitto/acl.base).
CLAIM_SCOPE: Final = "msm-local/claim"
CLAIM_CLIENT_ID_RE: Final = re.compile(r"provision-[A-Za-z0-9_-]{1,100}")


def claim_scoped(client_id: str, topic: str) -> str:
    """`msm-local/claim/{client_id}/{topic}`: an AWS provisioning topic, for one claim client."""
    cid = _segment(client_id, CLAIM_CLIENT_ID_RE, "claim client id")
    return f"{CLAIM_SCOPE}/{cid}/{topic}"


def claim_scope_filter(aws_filter: str) -> str:
    """The filter matching `aws_filter` under every claim client's scope (localiot's side)."""
    return f"{CLAIM_SCOPE}/+/{aws_filter}"


def split_claim_scoped(topic: str) -> tuple[str, str] | None:
    """(client id, AWS topic) of a claim-scoped topic; None for any other topic."""
    root, _, rest = topic.partition(f"{CLAIM_SCOPE}/")
    cid, _, inner = rest.partition("/")
    if root or not inner or CLAIM_CLIENT_ID_RE.fullmatch(cid) is None:
        return None
    return cid, inner


def shared_subscription(topic_filter: str, group: str | None) -> str:
    """`$share/{group}/{filter}`: replicas subscribed in one group split the messages.

    Without a group (None), the filter itself: every subscriber gets every message.
    """
    if not topic_filter or topic_filter.startswith("$share/"):
        raise TopicError(INVALID_TOPIC_SEGMENT, f"{topic_filter!r} cannot be shared")
    if group is None:
        return topic_filter
    _segment(group, _GROUP_RE, "share group")
    return f"$share/{group}/{topic_filter}"


def matches(topic_filter: str, topic: str) -> bool:
    """MQTT matching (`+` one level, `#` the rest); `$` topics never match a leading wildcard."""
    filter_parts = topic_filter.split("/")
    topic_parts = topic.split("/")
    if topic.startswith("$") and filter_parts[0] in {"+", "#"}:
        return False
    for index, part in enumerate(filter_parts):
        if part == "#":
            return True
        if index >= len(topic_parts) or (part != "+" and part != topic_parts[index]):
            return False
    return len(filter_parts) == len(topic_parts)


# --- parsing ----------------------------------------------------------------------------------

_MSM_KINDS: Final[dict[str, tuple[TopicKind, CommandType | None]]] = {
    "telemetry": (TopicKind.TELEMETRY, None),
    "device_info": (TopicKind.DEVICE_INFO, None),
    **{t.value: (TopicKind.COMMAND, t) for t in CommandType},
}


def parse(topic: str) -> ParsedTopic:
    """Say what `topic` is; raise TopicError for anything outside the contract."""
    if type(topic) is not str or len(topic) > MAX_TOPIC_LENGTH:
        raise _unknown(topic)
    return _parse(topic)


# Every device sends on the same few topics again and again; a topic that fails is not cached.
@functools.lru_cache(maxsize=1 << 16)
def _parse(topic: str) -> ParsedTopic:
    parts = topic.split("/")
    head = parts[0]
    if head == "msm" and len(parts) == 3 and parts[2] in _MSM_KINDS:
        kind, command_type = _MSM_KINDS[parts[2]]
        return ParsedTopic(kind, _thing(parts[1], topic), command_type=command_type)
    if head == "$aws" and len(parts) >= 4:
        parser = _AWS_PARSERS.get(parts[1])
        if parser is not None:
            return parser(parts, topic)
    raise _unknown(topic)


def _unknown(topic: object) -> TopicError:
    shown = repr(topic) if len(repr(topic)) <= 200 else repr(topic)[:197] + "..."
    return TopicError(UNKNOWN_TOPIC, f"{shown} is not an MSM topic")


def _thing(segment: str, topic: str) -> str:
    if _THING_RE.fullmatch(segment) is None:
        raise _unknown(topic)
    return segment


def _known(enum: type[_E], segment: str, topic: str) -> _E:
    try:
        return enum(segment)
    except ValueError:
        raise _unknown(topic) from None


def _parse_shadow(parts: list[str], topic: str) -> ParsedTopic:
    # $aws/things/{thing}/shadow[/name/{name}]/{op}[/{suffix}]
    rest = parts[4:]
    name = None
    if len(rest) >= 3 and rest[0] == "name":
        name, rest = rest[1], rest[2:]
        if _SHADOW_NAME_RE.fullmatch(name) is None:
            raise _unknown(topic)
    if parts[3] != "shadow" or not 1 <= len(rest) <= 2:
        raise _unknown(topic)
    op = _known(ShadowOp, rest[0], topic)
    suffix = _known(ShadowSuffix, rest[1], topic) if len(rest) == 2 else None
    if suffix not in SHADOW_SUFFIXES[op]:
        raise _unknown(topic)
    thing = _thing(parts[2], topic)
    return ParsedTopic(
        TopicKind.SHADOW, thing, shadow_op=op, shadow_suffix=suffix, shadow_name=name
    )


def _parse_events(parts: list[str], topic: str) -> ParsedTopic:
    # $aws/events/presence/{connected|disconnected}/{clientId}
    # $aws/events/thing/{thingName}/{created|updated|deleted}
    if len(parts) == 5 and parts[2] == "presence":
        event = _known(PresenceEventType, parts[3], topic)
        client_id = parts[4]
        if _CLIENT_ID_RE.fullmatch(client_id) is None:
            raise _unknown(topic)
        device = client_id if _THING_RE.fullmatch(client_id) else None
        return ParsedTopic(TopicKind.PRESENCE, device, presence_event=event, client_id=client_id)
    if len(parts) == 5 and parts[2] == "thing":
        thing_event_type = _known(ThingEventType, parts[4], topic)
        thing = _thing(parts[3], topic)
        return ParsedTopic(TopicKind.THING_EVENT, thing, thing_event=thing_event_type)
    raise _unknown(topic)


def _parse_certificates(parts: list[str], topic: str) -> ParsedTopic:
    # $aws/certificates/{create|create-from-csr}/json[/accepted|/rejected]
    if parts[2] not in {"create", "create-from-csr"} or parts[3] != "json":
        raise _unknown(topic)
    return ParsedTopic(
        TopicKind.PROVISIONING,
        provisioning_op=ProvisioningOp(parts[2]),
        provisioning_result=_result(parts[4:], topic),
    )


def _parse_templates(parts: list[str], topic: str) -> ParsedTopic:
    # $aws/provisioning-templates/{template}/provision/json[/accepted|/rejected]
    if len(parts) < 5 or parts[3] != "provision" or parts[4] != "json":
        raise _unknown(topic)
    if _TEMPLATE_RE.fullmatch(parts[2]) is None:
        raise _unknown(topic)
    return ParsedTopic(
        TopicKind.PROVISIONING,
        provisioning_op=ProvisioningOp.PROVISION,
        provisioning_result=_result(parts[5:], topic),
        template_name=parts[2],
    )


def _result(rest: list[str], topic: str) -> ProvisioningResult | None:
    if not rest:
        return None
    if len(rest) == 1 and rest[0] in {"accepted", "rejected"}:
        return ProvisioningResult(rest[0])
    raise _unknown(topic)


_AWS_PARSERS: Final = {
    "things": _parse_shadow,
    "events": _parse_events,
    "certificates": _parse_certificates,
    "provisioning-templates": _parse_templates,
}
