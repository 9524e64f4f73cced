"""Drives one device's commands: reads them, asks the state machine, applies its decisions.

Safe to run for the same device from any number of threads or replicas at once: every write is
guarded on the state that was read, and the database allows one `sent` command per device.
A decision whose guard fails means someone else moved first: read again and re-decide.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from msm_common import secrets, topics
from msm_common.contracts.errors import ContractError
from pydantic import ValidationError

from msm_commander.adapters.events import StatusEvents
from msm_commander.adapters.sender import CommandSender
from msm_commander.domain import documents
from msm_commander.domain.documents import is_online
from msm_commander.domain.state_machine import (
    FINAL,
    Action,
    Decision,
    RetryPolicy,
    Status,
    next_action,
    reject_all,
)
from msm_commander.metrics import CommanderMetrics
from msm_commander.ports import AlreadyInFlight, CommandStore

log = logging.getLogger(__name__)
MAX_PASSES: Final = 5
UNKNOWN_DEVICE: Final = "unknown_device"
DECOMMISSIONED: Final = "device_decommissioned"


@dataclass
class Scheduler:
    store: CommandStore
    sender: CommandSender
    events: StatusEvents
    metrics: CommanderMetrics
    policy: RetryPolicy
    clock: Callable[[], datetime]
    default_expiry: timedelta
    secrets: secrets.SecretBox
    allow_unknown: bool = False

    # -- the per-device loop ----------------------------------------------------------------------
    def schedule(
        self,
        device_uuid: str,
        *,
        online: bool | None = None,
        reconnected_at: datetime | None = None,
        active: list[dict[str, Any]] | None = None,
    ) -> None:
        """Bring the device's commands up to date; `online` overrides the stored connectivity.

        `active`: the device's queued and sent commands, just read by the caller (saves a read;
        if they are stale, a guarded write fails and the next pass reads them afresh).
        """
        for _ in range(MAX_PASSES):
            if self._pass(device_uuid, online, reconnected_at, active):
                return
            active = None
        log.info(
            "device %s still contended after %d passes",
            device_uuid,
            MAX_PASSES,
            extra={"device_uuid": device_uuid},
        )

    def _pass(
        self,
        device_uuid: str,
        online: bool | None,
        reconnected_at: datetime | None,
        active: list[dict[str, Any]] | None,
    ) -> bool:
        """One read-decide-apply round; False if a write lost a race (read again)."""
        docs = self.store.active(device_uuid) if active is None else active
        if not docs:
            return True
        queued = any(d["status"] == Status.QUEUED.value for d in docs)
        # Who the device is matters only for what is queued, or for telling a resend from a hold.
        device = self.store.device(device_uuid) if queued or online is None else {}
        now = self.clock()
        by_id = {str(d["_id"]): d for d in docs}
        views = [documents.view(d, self.default_expiry) for d in docs]
        refusal = self._refusal(device)
        if refusal is not None:
            # Nothing more goes out; what is in flight expires or times out as usual.
            in_flight = [v for v in views if v.status is Status.SENT]
            decisions = reject_all(views, refusal) + next_action(
                in_flight, now, False, policy=self.policy, can_send=False
            )
        else:
            decisions = next_action(
                views,
                now,
                is_online(device) if online is None else online,
                policy=self.policy,
                can_send=self.sender.connected,
                reconnected_at=reconnected_at,
            )
        for decision in decisions:
            try:
                if not self._apply(decision, by_id[decision.command_id], now):
                    return False
            except AlreadyInFlight:
                return True  # another worker is sending this device's command right now
        return True

    def _refusal(self, device: Mapping[str, Any] | None) -> str | None:
        """Why nothing may be sent to this device, if so."""
        if device is None:
            return None if self.allow_unknown else UNKNOWN_DEVICE
        return DECOMMISSIONED if device.get("status") == "decommissioned" else None

    def _apply(self, decision: Decision, doc: dict[str, Any], now: datetime) -> bool:
        if decision.action is Action.HOLD:
            assert decision.deadline_at is not None
            return self.store.extend_deadline(doc, decision.deadline_at, now)
        if decision.action in (Action.SEND, Action.RESEND):
            return self._send(decision, doc, now)
        return self.finish(doc, decision.target, decision.reason, now)

    # -- transitions ------------------------------------------------------------------------------
    def finish(
        self,
        doc: Mapping[str, Any],
        target: Status,
        reason: str,
        now: datetime,
        *,
        set_: Mapping[str, Any] | None = None,
    ) -> bool:
        """A guarded transition to a final state; records, counts and announces it."""
        attempts = int(doc.get("attempts") or 0)
        update = documents.transition(
            str(doc.get("type")),
            target,
            reason,
            now,
            current=str(doc.get("status")),
            attempts=attempts,
            set_=set_,
        )
        if not self.store.apply(doc, update):
            return False
        self._announce(doc, update)
        if target in FINAL:
            self.metrics.finished.labels(str(doc.get("type")), target.value).inc()
        log.info(
            "command %s %s: %s",
            doc["_id"],
            target.value,
            reason,
            extra={"command_id": doc["_id"], "device_uuid": doc.get("device_uuid")},
        )
        return True

    def _send(self, decision: Decision, doc: dict[str, Any], now: datetime) -> bool:
        try:
            # The only place a device secret is decrypted: into the bytes for the device.
            kind, stored = str(doc.get("type")), doc.get("params") or {}
            params = secrets.open_params(self.secrets, kind, stored)
            payload = documents.device_payload({**doc, "params": params}, self.default_expiry)
        except (ContractError, ValidationError, ValueError) as exc:  # incl. SecretError
            self.finish(doc, Status.REJECTED, f"invalid_params: {exc}", now)
            return False  # read again: the next queued command may go now
        assert decision.deadline_at is not None
        update = documents.send_update(
            str(doc["type"]), decision.reason, now, decision.deadline_at, decision.attempts
        )
        claimed = (
            self.store.claim(doc, update)
            if decision.action is Action.SEND
            else self.store.apply(doc, update)
        )
        if not claimed:
            return False
        self._announce(doc, update)
        attempt = decision.attempts + 1
        self.metrics.sends.labels(str(doc["type"]), str(attempt)).inc()
        topic = topics.command(str(doc["device_uuid"]), str(doc["type"]))
        if not self.sender.send(topic, payload):
            # Stays sent with its deadline: the next attempt comes from the ticker.
            self.metrics.publish_failures.inc()
        return True

    def _announce(self, doc: Mapping[str, Any], update: Mapping[str, Any]) -> None:
        """Publish the event of the history entry `update` just appended to `doc`."""
        history = [*(doc.get("history") or []), update["$push"]["history"]]
        after = {**doc, "history": history}
        self.events.publish(after, [len(history) - 1])
