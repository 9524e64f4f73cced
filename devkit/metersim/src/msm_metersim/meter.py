"""One simulated smart meter as a pure state machine: no sockets, no clock; `now` is passed in.

The runtime feeds it what arrives and the ticks of its telemetry timer; it answers with
`Publish` and `Reboot` actions for the runtime to carry out.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

from msm_common import topics
from msm_common.contracts import (
    AckStatus,
    CommandType,
    ContractError,
    DeviceCommand,
    MqttParams,
    RebootParams,
    SftpParams,
    is_thing_name,
    load_json,
    strip_secrets,
)

from msm_metersim import payloads
from msm_metersim.policy import AckPolicy
from msm_metersim.readings import MeterProfile, sample

REMEMBERED_COMMANDS: Final = 512
MAX_INTERVAL: Final = 86_400
REBOOT_SETTLE_S: Final = 0.2  # between the ack going out and the connection dropping


@dataclass(frozen=True)
class MeterSpec:
    """What a meter is: identity and the settings it boots with."""

    device_uuid: str
    serial: str = ""
    data_interval: int = 60
    channels: int = 1
    batch: bool = False
    firmware_version: str = "2.3.1-sim"
    reboot_downtime_s: float = 2.0

    def __post_init__(self) -> None:
        if not is_thing_name(self.device_uuid):
            raise ValueError(f"{self.device_uuid!r} is not a thing name")
        if not 1 <= self.data_interval <= MAX_INTERVAL:
            raise ValueError("data_interval must be 1..86400 seconds")
        if not 1 <= self.channels <= 21:  # 21 channels x 3 phases = 63 readings, under the 64 cap
            raise ValueError("channels must be 1..21")


@dataclass(frozen=True, slots=True)
class Ack:
    """An acknowledgement the meter decided to publish."""

    device_uuid: str
    command_type: CommandType
    command_id: str | None
    status: AckStatus
    message: str


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: bytes
    delay_s: float = 0.0
    ack: Ack | None = None


@dataclass(frozen=True, slots=True)
class Reboot:
    delay_s: float
    downtime_s: float


Action = Publish | Reboot


@dataclass(frozen=True, slots=True)
class Delivery:
    """A cloud command as this meter received it (`outcome` is what it decided, once)."""

    command_type: CommandType
    command_id: str | None
    payload: dict[str, Any]
    duplicate: bool
    outcome: AckStatus
    acked: bool


class Reaction(NamedTuple):
    actions: list[Action]
    delivery: Delivery | None = None


IGNORED: Final = Reaction([])


@dataclass
class Meter:
    spec: MeterSpec
    policy: AckPolicy = field(default_factory=AckPolicy)
    rng: random.Random = field(default_factory=random.Random)
    data_interval: int = 0
    config: dict[str, dict[str, Any]] = field(default_factory=dict)
    reboots: int = 0

    def __post_init__(self) -> None:
        uuid = self.spec.device_uuid
        self.data_interval = self.data_interval or self.spec.data_interval
        # Readings get their own stream, seeded by identity: ack draws never shift them.
        self._readings_rng = random.Random(uuid)  # noqa: S311 - simulation, not security
        self.profile = MeterProfile.draw(self._readings_rng)
        self._answered: OrderedDict[str, tuple[AckStatus, str]] = OrderedDict()
        self._telemetry_topic = topics.telemetry(uuid)
        self._shadow_update = topics.shadow(uuid, topics.ShadowOp.UPDATE)

    @property
    def device_uuid(self) -> str:
        return self.spec.device_uuid

    def subscriptions(self) -> list[str]:
        """Filters this meter listens on: its command topics and its shadow answers."""
        uuid = self.device_uuid
        return [
            *(topics.command(uuid, kind) for kind in CommandType),
            topics.shadow(uuid, topics.ShadowOp.UPDATE, topics.ShadowSuffix.DELTA),
            topics.shadow(uuid, topics.ShadowOp.GET, topics.ShadowSuffix.ACCEPTED),
        ]

    # -- what the meter says on its own ------------------------------------------------------
    def on_connected(self, now: float) -> list[Publish]:
        """device_info, the shadow's reported state, and a shadow get (to catch a pending delta)."""
        info = payloads.device_info(
            self.device_uuid,
            serial=self.spec.serial,
            firmware_version=self.spec.firmware_version,
            mqtt_status=True,
            sftp_status="sftp" in self.config,
            now=now,
        )
        return [
            Publish(topics.device_info(self.device_uuid), info),
            Publish(self._shadow_update, payloads.shadow_reported(self.reported())),
            Publish(topics.shadow(self.device_uuid, topics.ShadowOp.GET), b"{}"),
        ]

    def telemetry(self, now: float) -> list[Publish]:
        readings: list[dict[str, Any]] = []
        for channel in range(1, self.spec.channels + 1):
            readings.extend(sample(self.profile, self._readings_rng, now, channel))
        if self.spec.batch:
            return [Publish(self._telemetry_topic, payloads.telemetry_batch(readings, now))]
        return [Publish(self._telemetry_topic, payloads.telemetry_single(r, now)) for r in readings]

    def reported(self) -> dict[str, Any]:
        """The shadow's reported state: firmware, interval, configs without secrets."""
        state: dict[str, Any] = {
            "firmware_version": self.spec.firmware_version,
            "data_interval": self.data_interval,
        }
        for kind, values in self.config.items():
            state[kind] = strip_secrets(kind, values)
        return state

    # -- what arrives --------------------------------------------------------------------------
    def on_message(self, topic: str, payload: bytes, now: float) -> Reaction:
        try:
            parsed = topics.parse(topic)
        except ContractError:
            return IGNORED
        if parsed.device_uuid != self.device_uuid:
            return IGNORED
        if parsed.kind is topics.TopicKind.COMMAND and parsed.command_type is not None:
            return self.handle_command(parsed.command_type, payload, now)
        if parsed.kind is topics.TopicKind.SHADOW:
            return Reaction(self._on_shadow(parsed, payload))
        return IGNORED

    def handle_command(self, kind: CommandType, payload: bytes, now: float) -> Reaction:
        """Answer a command; acks (ours echoed back included) and foreign payloads are ignored."""
        try:
            body = load_json(payload)
        except ContractError:
            return IGNORED
        if not isinstance(body, dict) or body.get("origin") != "cloud":
            return IGNORED  # an ack on the shared topic, possibly our own
        raw_id = body.get("command_id")
        command_id = raw_id if isinstance(raw_id, str) else None
        known = self._answered.get(command_id) if command_id is not None else None
        actions: list[Action] = []
        if known is not None:  # a resend: the same answer again, nothing applied twice
            outcome, message = known
        else:
            outcome, message, actions = self._decide(kind, payload, now)
            if command_id is not None:
                self._remember(command_id, (outcome, message))
        dropped = self.policy.drops(self.rng)
        if not dropped:
            ack = Ack(self.device_uuid, kind, command_id, outcome, message)
            out = payloads.ack(command_id, outcome, message, legacy=self.policy.legacy)
            actions.insert(
                0,
                Publish(topics.command(self.device_uuid, kind), out, self.policy.ack_delay_s, ack),
            )
        delivery = Delivery(kind, command_id, body, known is not None, outcome, not dropped)
        return Reaction(actions, delivery)

    def _decide(
        self, kind: CommandType, payload: bytes, now: float
    ) -> tuple[AckStatus, str, list[Action]]:
        try:
            command = DeviceCommand.from_payload(payload)
        except ContractError as exc:
            return AckStatus.REJECTED, f"invalid command: {exc.detail}", []
        if command.type is not kind:
            return AckStatus.REJECTED, f"a {command.type} command on the {kind} topic", []
        if command.expires_at <= datetime.fromtimestamp(now, UTC):
            return AckStatus.REJECTED, "command expired", []
        outcome = self.policy.outcome(self.rng)
        if outcome is AckStatus.FAILED:
            return outcome, f"simulated failure applying {kind}", []
        if outcome is AckStatus.REJECTED:
            return outcome, f"simulated rejection of {kind}", []
        return AckStatus.SUCCESS, f"{kind} applied", self._apply(command)

    def _apply(self, command: DeviceCommand) -> list[Action]:
        params = command.params
        if isinstance(params, RebootParams):
            self.reboots += 1
            delay = max(float(params.delay_s or 0), self.policy.ack_delay_s) + REBOOT_SETTLE_S
            return [Reboot(delay, self.spec.reboot_downtime_s)]
        self.config[command.type.value] = params.model_dump(exclude_none=True)
        if isinstance(params, MqttParams | SftpParams):
            self.data_interval = params.data_interval
        report = payloads.shadow_reported(self.reported())
        return [Publish(self._shadow_update, report, self.policy.ack_delay_s)]

    def _remember(self, command_id: str, answer: tuple[AckStatus, str]) -> None:
        self._answered[command_id] = answer
        while len(self._answered) > REMEMBERED_COMMANDS:
            self._answered.popitem(last=False)

    def _on_shadow(self, parsed: topics.ParsedTopic, payload: bytes) -> list[Action]:
        try:
            body = load_json(payload)
        except ContractError:
            return []
        state = body.get("state") if isinstance(body, dict) else None
        if not isinstance(state, dict):
            return []
        if parsed.shadow_op is topics.ShadowOp.GET:
            state = state.get("delta")  # get/accepted carries the delta beside the documents
            if not isinstance(state, dict):
                return []
        return self.apply_desired(state)

    def apply_desired(self, delta: dict[str, Any]) -> list[Action]:
        """Apply what the shadow's delta asks for that a meter can change; report it back."""
        interval = delta.get("data_interval")
        if type(interval) is not int or not 1 <= interval <= MAX_INTERVAL:
            return []
        self.data_interval = interval
        return [Publish(self._shadow_update, payloads.shadow_reported({"data_interval": interval}))]
