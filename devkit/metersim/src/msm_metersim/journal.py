"""What the fleet's meters received and answered, for tests to wait on and inspect (thread-safe)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from msm_common.contracts import AckStatus, CommandType

from msm_metersim.meter import Ack, Delivery

T = TypeVar("T")


@dataclass(frozen=True)
class SentAck:
    device_uuid: str
    command_type: CommandType
    command_id: str | None
    status: AckStatus
    message: str
    at: float  # epoch seconds when it was handed to the broker connection


@dataclass(frozen=True)
class ReceivedCommand:
    """One command as one meter saw it: how often it was delivered and what the meter decided."""

    device_uuid: str
    command_type: CommandType
    command_id: str | None
    payload: dict[str, Any]
    outcome: AckStatus
    deliveries: int
    acks_sent: int
    first_at: float
    last_at: float


class Journal:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._received: dict[str, dict[str, ReceivedCommand]] = {}
        self._acks: list[SentAck] = []
        self._online: set[str] = set()
        self._anonymous = 0

    # -- written by the meters' loops ------------------------------------------------------------
    def delivered(self, device_uuid: str, delivery: Delivery, now: float) -> None:
        with self._cond:
            commands = self._received.setdefault(device_uuid, {})
            key = delivery.command_id
            if key is None:  # no id: every delivery is its own entry
                self._anonymous += 1
                key = f"\0{self._anonymous}"
            seen = commands.get(key)
            if seen is None:
                commands[key] = ReceivedCommand(
                    device_uuid,
                    delivery.command_type,
                    delivery.command_id,
                    delivery.payload,
                    delivery.outcome,
                    1,
                    0,
                    now,
                    now,
                )
            else:
                commands[key] = replace(seen, deliveries=seen.deliveries + 1, last_at=now)
            self._cond.notify_all()

    def acked(self, ack: Ack, now: float) -> None:
        with self._cond:
            self._acks.append(
                SentAck(
                    ack.device_uuid, ack.command_type, ack.command_id, ack.status, ack.message, now
                )
            )
            commands = self._received.get(ack.device_uuid, {})
            seen = commands.get(ack.command_id) if ack.command_id is not None else None
            if seen is not None and ack.command_id is not None:
                commands[ack.command_id] = replace(seen, acks_sent=seen.acks_sent + 1)
            self._cond.notify_all()

    def set_online(self, device_uuid: str, online: bool) -> None:
        with self._cond:
            if online:
                self._online.add(device_uuid)
            else:
                self._online.discard(device_uuid)
            self._cond.notify_all()

    # -- read by tests ---------------------------------------------------------------------------
    def received(self, device_uuid: str) -> list[ReceivedCommand]:
        with self._cond:
            return list(self._received.get(device_uuid, {}).values())

    def acks(self, device_uuid: str | None = None) -> list[SentAck]:
        with self._cond:
            return [a for a in self._acks if device_uuid in (None, a.device_uuid)]

    def online(self) -> set[str]:
        with self._cond:
            return set(self._online)

    def wait_for_acks(
        self, n: int, timeout: float, device_uuid: str | None = None
    ) -> list[SentAck]:
        return self._wait(
            lambda: self.acks(device_uuid),
            lambda found: len(found) >= n,
            timeout,
            lambda found: f"{len(found)} of {n} acks after {timeout} s: {found}",
        )

    def wait_for_commands(self, device_uuid: str, n: int, timeout: float) -> list[ReceivedCommand]:
        """Wait until `device_uuid` has received `n` deliveries in all (resends included)."""
        return self._wait(
            lambda: self.received(device_uuid),
            lambda found: sum(c.deliveries for c in found) >= n,
            timeout,
            lambda found: f"{device_uuid} got {found} after {timeout} s, wanted {n} deliveries",
        )

    def wait_online(self, device_uuids: Iterable[str], online: bool, timeout: float) -> set[str]:
        """Wait until every uuid is online (or offline); return those that are not yet."""
        wanted = set(device_uuids)

        def missing() -> set[str]:
            return wanted - self._online if online else wanted & self._online

        with self._cond:
            self._cond.wait_for(lambda: not missing(), timeout)
            return missing()

    def _wait(
        self,
        read: Callable[[], T],
        done: Callable[[T], bool],
        timeout: float,
        explain: Callable[[T], str],
    ) -> T:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = read()
                if done(found):
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(explain(found))
                self._cond.wait(left)
