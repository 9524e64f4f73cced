"""`Fleet`: many simulated meters, as a library for tests and as the engine behind the CLI.

    with Fleet.start(FleetOptions(devices=3, interval_s=5)) as fleet:
        uuid = fleet.uuids[0]
        ...  # the backend sends a command
        fleet.wait_for_acks(1, timeout=10, device_uuid=uuid)
        fleet.take_offline(uuid)

Each meter has its own connection and certificate (client id = uuid), unless
`shared_connections=K`: then K connections of the privileged `loadgen` identity carry them all.
"""

from __future__ import annotations

import random
import uuid as uuidlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Self

from msm_common.adapters.mqtt import MqttConfig

from msm_metersim import identity, provisioning
from msm_metersim.journal import Journal, ReceivedCommand, SentAck
from msm_metersim.meter import Meter, MeterSpec
from msm_metersim.netloop import IoLoop
from msm_metersim.policy import AckPolicy
from msm_metersim.runtime import Hub, LoopCounters, MeterRuntime
from msm_metersim.settings import MetersimSettings

MAX_LOOPS = 4
CONNECTIONS_PER_LOOP = 250


@dataclass(frozen=True)
class FleetOptions:
    devices: int = 1
    interval_s: int = 60
    batch: bool = False
    channels: int = 1
    policy: AckPolicy = field(default_factory=AckPolicy)
    policies: Mapping[str, AckPolicy] = field(default_factory=dict)  # per-meter, by uuid
    shared_connections: int = 0  # 0: one connection (and certificate) per meter
    provision: bool = False  # claim flow against localiot instead of issue-device-cert.sh
    serial_prefix: str = "SIM-"
    serial_start: int = 1
    uuids: Sequence[str] | None = None  # explicit device uuids (default: derived from serials)
    firmware_version: str = "2.3.1-sim"
    reboot_downtime_s: float = 2.0
    qos: int = 1
    loops: int = 0  # network loop threads; 0: one per 250 connections, at most 4
    seed: int | None = None
    keepalive_s: int = 60
    connect_rate: float = 200.0  # new connections per second and loop

    def __post_init__(self) -> None:
        if self.devices < 0 or self.shared_connections < 0 or self.loops < 0:
            raise ValueError("devices, shared_connections and loops must not be negative")
        if self.uuids is not None and len(self.uuids) != self.devices:
            raise ValueError("give one uuid per device")
        if self.provision and self.shared_connections:
            raise ValueError("--provision gives each meter its own certificate: not with shared")
        if self.qos not in (0, 1):
            raise ValueError("qos must be 0 or 1 (AWS IoT has no QoS 2)")


class Fleet:
    def __init__(
        self,
        options: FleetOptions,
        settings: MetersimSettings | None = None,
        identities: Sequence[identity.Identity] | None = None,
    ) -> None:
        self.options = options
        self.settings = settings or MetersimSettings()
        self.journal = Journal()
        self._identities = identities
        self._loops: list[IoLoop] = []
        self._counters: list[LoopCounters] = []
        self._hubs: list[Hub] = []
        self._runtimes: dict[str, MeterRuntime] = {}
        self._started = False

    @classmethod
    def start(
        cls,
        options: FleetOptions,
        *,
        settings: MetersimSettings | None = None,
        wait_s: float | None = 30.0,
    ) -> Fleet:
        """Start the meters of `options` and wait up to `wait_s` until all are online."""
        fleet = cls(options, settings)
        try:
            fleet.open()
            if wait_s:
                fleet.wait_online(timeout=wait_s)
        except BaseException:
            fleet.stop()
            raise
        return fleet

    # -- lifecycle -------------------------------------------------------------------------------
    def open(self) -> None:
        opts = self.options
        people = list(self._identities or self._resolve_identities())
        shared = opts.shared_connections > 0
        connections = min(opts.shared_connections, len(people)) if shared else len(people)
        n_loops = opts.loops or min(MAX_LOOPS, 1 + connections // CONNECTIONS_PER_LOOP)
        self._loops = [IoLoop(f"metersim-loop-{i}") for i in range(n_loops)]
        self._counters = [LoopCounters() for _ in self._loops]
        run_id = uuidlib.uuid4().hex[:8]
        if shared:
            cert, key = self.settings.identity("loadgen")
            self._hubs = [
                Hub(
                    self._loops[k % n_loops],
                    self._config(f"loadgen-{run_id}-{k}", cert, key),
                    owns_link=False,
                )
                for k in range(connections)
            ]
        for index, who in enumerate(people):
            if shared:
                hub = self._hubs[index % connections]
            else:
                assert who.cert_file is not None and who.key_file is not None
                config = self._config(who.device_uuid, who.cert_file, who.key_file)
                hub = Hub(self._loops[index % n_loops], config, owns_link=True)
                self._hubs.append(hub)
            self._runtimes[who.device_uuid] = self._runtime(who, hub)
        for loop in self._loops:
            loop.start()
        self._started = True
        self._bring_up(shared)

    def _resolve_identities(self) -> list[identity.Identity]:
        opts = self.options
        serials = identity.serials(opts.serial_prefix, opts.serial_start, opts.devices)
        if opts.shared_connections:
            return identity.shared(serials, opts.uuids)
        if opts.provision:
            return provisioning.provision_fleet(self.settings, serials)
        return identity.with_certificates(self.settings, serials, opts.uuids)

    def _config(self, client_id: str, cert: Path, key: Path) -> MqttConfig:
        return MqttConfig(
            host=self.settings.mqtt_host,
            port=self.settings.mqtt_port,
            ca_file=self.settings.mqtt_ca_file,
            cert_file=cert,
            key_file=key,
            client_id=client_id,
            keepalive_s=self.options.keepalive_s,
            max_inflight=1000,
        )

    def _runtime(self, who: identity.Identity, hub: Hub) -> MeterRuntime:
        opts = self.options
        spec = MeterSpec(
            device_uuid=who.device_uuid,
            serial=who.serial,
            data_interval=opts.interval_s,
            channels=opts.channels,
            batch=opts.batch,
            firmware_version=opts.firmware_version,
            reboot_downtime_s=opts.reboot_downtime_s,
        )
        seed = None if opts.seed is None else f"{opts.seed}:{who.device_uuid}"
        meter = Meter(
            spec,
            opts.policies.get(who.device_uuid, opts.policy),
            random.Random(seed),  # noqa: S311
        )
        counters = self._counters[self._loops.index(hub.link.loop)]
        phases = random.Random(None if seed is None else f"{seed}:phase")  # noqa: S311
        return MeterRuntime(meter, hub, self.journal, counters, qos=opts.qos, phase_rng=phases)

    def _bring_up(self, shared: bool) -> None:
        """Connect at `connect_rate` new TLS connections per second and loop (a gentle ramp)."""
        starters: list[tuple[IoLoop, Callable[[], None]]]
        if shared:
            for runtime in self._runtimes.values():
                runtime.loop.call_soon(runtime.go_online)  # online as soon as its link is up
            starters = [(hub.link.loop, hub.link.connect) for hub in self._hubs]
        else:
            starters = [(rt.loop, rt.go_online) for rt in self._runtimes.values()]
        spacing = 1.0 / self.options.connect_rate
        queued: dict[IoLoop, int] = {}
        for loop, start in starters:
            position = queued[loop] = queued.get(loop, -1) + 1
            loop.call_soon(partial(loop.call_later, position * spacing, start))

    def stop(self) -> None:
        """Disconnect every meter cleanly and stop the loops (idempotent)."""
        if self._started:
            for loop in self._loops:
                hubs = [h for h in self._hubs if h.link.loop is loop]
                try:
                    loop.run_sync(partial(_close_all, hubs), timeout=10)
                    loop.run_sync(lambda: None, timeout=5)  # one more pass writes the DISCONNECTs
                except TimeoutError:
                    pass  # a wedged loop: stopping it below is all that is left to do
        for loop in self._loops:
            loop.stop()
        self._started = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- what tests use --------------------------------------------------------------------------
    @property
    def uuids(self) -> list[str]:
        return list(self._runtimes)

    @property
    def meters(self) -> Mapping[str, Meter]:
        """The meters' state machines (read-only use: they change on the loop threads)."""
        return {uuid: runtime.meter for uuid, runtime in self._runtimes.items()}

    def received_commands(self, device_uuid: str) -> list[ReceivedCommand]:
        """Cloud commands the meter received, in order, each with its delivery count."""
        return self.journal.received(device_uuid)

    def acks(self, device_uuid: str | None = None) -> list[SentAck]:
        return self.journal.acks(device_uuid)

    def wait_for_acks(
        self, n: int, timeout: float = 10.0, device_uuid: str | None = None
    ) -> list[SentAck]:
        """Block until `n` acks were published (by one meter or all); TimeoutError otherwise."""
        return self.journal.wait_for_acks(n, timeout, device_uuid)

    def wait_for_commands(
        self, device_uuid: str, n: int = 1, timeout: float = 10.0
    ) -> list[ReceivedCommand]:
        return self.journal.wait_for_commands(device_uuid, n, timeout)

    def wait_online(self, uuids: Sequence[str] | None = None, timeout: float = 30.0) -> None:
        missing = self.journal.wait_online(uuids or self.uuids, True, timeout)
        if missing:
            raise TimeoutError(f"{len(missing)} meters not online after {timeout} s")

    def wait_offline(self, device_uuid: str, timeout: float = 10.0) -> None:
        if self.journal.wait_online([device_uuid], False, timeout):
            raise TimeoutError(f"{device_uuid} still online after {timeout} s")

    def is_online(self, device_uuid: str) -> bool:
        return device_uuid in self.journal.online()

    def take_offline(self, device_uuid: str, *, abrupt: bool = False) -> None:
        """Disconnect the meter (abrupt: drop TCP without DISCONNECT) until bring_online."""
        runtime = self._runtimes[device_uuid]
        runtime.loop.run_sync(lambda: runtime.go_offline(abrupt=abrupt))

    def bring_online(self, device_uuid: str) -> None:
        runtime = self._runtimes[device_uuid]
        runtime.loop.run_sync(runtime.go_online)

    def set_policy(self, device_uuid: str, policy: AckPolicy) -> None:
        """Change how one meter answers from now on."""
        runtime = self._runtimes[device_uuid]

        def apply() -> None:
            runtime.meter.policy = policy

        runtime.loop.run_sync(apply)

    def stats(self) -> dict[str, int]:
        totals: dict[str, int] = {
            "meters": len(self._runtimes),
            "online": len(self.journal.online()),
            "connections": sum(1 for h in self._hubs if h.link.up),
        }
        for counters in self._counters:
            for key, value in asdict(counters).items():
                totals[key] = totals.get(key, 0) + value
        for hub in self._hubs:
            for f in fields(hub.link.counters):
                totals[f.name] = totals.get(f.name, 0) + getattr(hub.link.counters, f.name)
        return totals


def _close_all(hubs: list[Hub]) -> None:
    for hub in hubs:
        hub.link.close()
