"""Meters at work: each `MeterRuntime` binds a pure `Meter` to a loop's timers and a connection.

A `Hub` is one connection serving one meter (its own certificate) or many (the shared `loadgen`
identity); it routes what arrives to the meter the topic names. Everything here runs on the
meter's `IoLoop` thread. The meter logic is pure and quick, so it runs inside the MQTT callback:
there is no database or broker call to keep off the network thread.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from functools import partial

from msm_common.adapters.mqtt import MqttConfig

from msm_metersim.journal import Journal
from msm_metersim.link import Link
from msm_metersim.meter import Action, Meter, Publish, Reboot
from msm_metersim.netloop import IoLoop, Timer


@dataclass
class LoopCounters:
    telemetry: int = 0  # telemetry messages published
    other: int = 0  # device_info and shadow messages
    commands: int = 0  # cloud command deliveries
    acks: int = 0
    reboots: int = 0


def device_of(topic: str) -> str | None:
    """The thing a meter topic names: `msm/{uuid}/...` or `$aws/things/{uuid}/...`."""
    parts = topic.split("/", 3)
    if parts[0] == "msm" and len(parts) >= 3:
        return parts[1]
    if parts[0] == "$aws" and len(parts) >= 4 and parts[1] == "things":
        return parts[2]
    return None


class MeterRuntime:
    def __init__(
        self,
        meter: Meter,
        hub: Hub,
        journal: Journal,
        counters: LoopCounters,
        *,
        qos: int = 1,
        phase_rng: random.Random | None = None,
    ) -> None:
        self.meter = meter
        self.hub = hub
        self.loop: IoLoop = hub.link.loop
        self._journal = journal
        self._counters = counters
        self._qos = qos
        self._phase_rng = phase_rng or random.Random()  # noqa: S311 - spreads load only
        self.wanted = False
        self.up = False
        self._tick: Timer | None = None
        self._next_tick = 0.0
        self._comeback: Timer | None = None
        hub.attach(self)

    @property
    def device_uuid(self) -> str:
        return self.meter.device_uuid

    # -- commands (loop thread) ------------------------------------------------------------------
    def go_online(self) -> None:
        self._cancel_comeback()
        self.wanted = True
        if self.hub.owns_link:
            self.hub.link.connect()
        elif self.hub.link.up:
            self.on_link_up()

    def go_offline(self, *, abrupt: bool = False) -> None:
        self._cancel_comeback()
        self.wanted = False
        self._down()
        if self.hub.owns_link:
            self.hub.link.disconnect(abrupt=abrupt)

    # -- events (loop thread) --------------------------------------------------------------------
    def on_link_up(self) -> None:
        if not self.wanted or self.up:
            return
        self.up = True
        self._journal.set_online(self.device_uuid, True)
        self._run(self.meter.on_connected(time.time()))
        # First reading at a random point of the interval, so a fleet does not publish in lockstep.
        self._arm(self._phase_rng.uniform(0.0, self.meter.data_interval))

    def on_link_down(self) -> None:
        self._down()

    def on_message(self, topic: str, payload: bytes) -> None:
        if not self.up:
            return  # offline: a real meter would never have received it
        interval = self.meter.data_interval
        now = time.time()
        reaction = self.meter.on_message(topic, payload, now)
        if reaction.delivery is not None:
            self._counters.commands += 1
            self._journal.delivered(self.device_uuid, reaction.delivery, now)
        self._run(reaction.actions)
        if self.meter.data_interval != interval:
            self._arm(self.meter.data_interval)

    # -- internals -------------------------------------------------------------------------------
    def _down(self) -> None:
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        if self.up:
            self.up = False
            self._journal.set_online(self.device_uuid, False)

    def _arm(self, delay_s: float) -> None:
        if self._tick is not None:
            self._tick.cancel()
        self._next_tick = time.monotonic() + delay_s
        self._tick = self.loop.call_later(delay_s, self._on_tick)

    def _on_tick(self) -> None:
        self._tick = None
        if not self.up:
            return
        messages = self.meter.telemetry(time.time())
        for message in messages:
            self.hub.link.publish(message.topic, message.payload, self._qos)
        self._counters.telemetry += len(messages)
        # Drift-free: the next tick is one interval after this one was due, not after it ran.
        self._next_tick += self.meter.data_interval
        self._tick = self.loop.call_later(self._next_tick - time.monotonic(), self._on_tick)

    def _run(self, actions: list[Action] | list[Publish]) -> None:
        for action in actions:
            if isinstance(action, Reboot):
                self.loop.call_later(action.delay_s, partial(self._reboot, action))
            elif action.delay_s > 0:
                self.loop.call_later(action.delay_s, partial(self._publish, action))
            else:
                self._publish(action)

    def _publish(self, message: Publish) -> None:
        if not self.up:
            return  # went offline before a delayed message was due: it is lost
        if not self.hub.link.publish(message.topic, message.payload, self._qos):
            return
        if message.ack is not None:
            self._counters.acks += 1
            self._journal.acked(message.ack, time.time())
        else:
            self._counters.other += 1

    def _reboot(self, action: Reboot) -> None:
        if not self.wanted:
            return  # taken offline meanwhile: stays offline
        self._counters.reboots += 1
        self.go_offline()
        self._comeback = self.loop.call_later(action.downtime_s, self.go_online)

    def _cancel_comeback(self) -> None:
        if self._comeback is not None:
            self._comeback.cancel()
            self._comeback = None


class Hub:
    """One connection and the meters it carries."""

    def __init__(self, loop: IoLoop, config: MqttConfig, *, owns_link: bool) -> None:
        self.link = Link(
            loop, config, on_message=self.on_message, on_up=self.on_up, on_down=self.on_down
        )
        self.owns_link = owns_link
        self.meters: dict[str, MeterRuntime] = {}

    def attach(self, runtime: MeterRuntime) -> None:
        self.meters[runtime.device_uuid] = runtime
        self.link.add_filters(runtime.meter.subscriptions())

    def on_message(self, topic: str, payload: bytes) -> None:
        device = device_of(topic)
        runtime = self.meters.get(device) if device is not None else None
        if runtime is not None:
            runtime.on_message(topic, payload)

    def on_up(self) -> None:
        for runtime in self.meters.values():
            runtime.on_link_up()

    def on_down(self) -> None:
        for runtime in self.meters.values():
            runtime.on_link_down()
