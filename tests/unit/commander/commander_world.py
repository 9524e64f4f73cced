"""A commander built by its composition root on in-memory fakes, and the messages it handles."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from commander_fakes import Clock, InMemoryStore, RecordingEvents, RecordingSender, secret_box
from msm_commander.bootstrap import Commander, bootstrap
from msm_commander.domain.documents import from_request
from msm_commander.domain.messages import PresenceChanged
from msm_commander.domain.state_machine import Status
from msm_commander.handlers import dispatch
from msm_commander.settings import CommanderSettings
from msm_common.contracts.acks import AckStatus, CommandAck
from msm_common.contracts.command_request import CommandRequest
from msm_common.contracts.commands import CommandType
from msm_common.secrets import seal_params
from support.command_samples import MQTT, NTP

__all__ = ["DEVICE", "MQTT", "NTP", "World"]

DEVICE = "meter-0001"
# Ack windows of 30 s, 60 s, 120 s; three attempts.
POLICY = {"ack_timeout_s": 30.0, "max_attempts": 3, "retry_backoff_factor": 2.0}


@dataclass
class World:
    clock: Clock = field(default_factory=Clock)
    store: InMemoryStore = field(default_factory=InMemoryStore)
    sender: RecordingSender = field(default_factory=RecordingSender)
    events: RecordingEvents = field(default_factory=RecordingEvents)
    box: Any = field(default_factory=secret_box)
    settings: dict[str, Any] = field(default_factory=dict)
    _commander: Commander | None = None

    @property
    def commander(self) -> Commander:
        if self._commander is None:
            settings = CommanderSettings(env="test", **{**POLICY, **self.settings})
            self._commander = bootstrap(
                settings,
                store=self.store,
                sender=self.sender,
                events=self.events,
                clock=self.clock,
                secret_box=self.box,
            )
        return self._commander

    # -- what arrives -----------------------------------------------------------------------------
    def request(
        self,
        type_: str = "reboot",
        params: dict[str, Any] | None = None,
        *,
        device: str = DEVICE,
        ttl: timedelta = timedelta(hours=1),
        idempotency_key: str | None = None,
        stored_by_api: bool = False,
    ) -> str:
        """A command request as the API publishes it (stored by it first if `stored_by_api`)."""
        command_id = uuid.uuid4().hex
        request = CommandRequest(
            command_id=command_id,
            device_uuid=device,
            type=CommandType(type_),
            params=seal_params(self.box, type_, params or {}),
            requested_by="operator",
            requested_at=self.clock(),
            expires_at=self.clock() + ttl,
            idempotency_key=idempotency_key,
        )
        if stored_by_api:
            self.store.insert(from_request(request, self.clock(), Status.QUEUED, "requested"))
        dispatch(self.commander.deps, request)
        return command_id

    def ack(
        self,
        command_id: str | None,
        type_: str = "reboot",
        status: AckStatus = AckStatus.SUCCESS,
        *,
        device: str = DEVICE,
        message: str | None = None,
    ) -> None:
        ack = CommandAck(
            device_uuid=device,
            command_type=CommandType(type_),
            command_id=command_id,
            status=status,
            message=message,
            received_at=self.clock(),
        )
        dispatch(self.commander.deps, ack)

    def presence(self, connected: bool, *, device: str = DEVICE) -> None:
        self.store.devices.setdefault(device, {"_id": device})["connectivity"] = {
            "connected": connected,
            "timestamp": self.clock(),
        }
        dispatch(self.commander.deps, PresenceChanged(device, connected, self.clock()))

    def later(self, seconds: float) -> set[str]:
        """Move the clock on and run one tick; the devices it scheduled."""
        self.clock.now += timedelta(seconds=seconds)
        return self.commander.ticker.tick()

    # -- what a user sees -------------------------------------------------------------------------
    def status(self, command_id: str) -> str:
        return str(self.store.commands[command_id]["status"])

    def sent_ids(self) -> list[str]:
        return [orjson.loads(payload)["command_id"] for _, payload in self.sender.sent]

    def sent_payload(self, index: int = -1) -> dict[str, Any]:
        payload: dict[str, Any] = orjson.loads(self.sender.sent[index][1])
        return payload

    @property
    def now(self) -> datetime:
        return self.clock()
