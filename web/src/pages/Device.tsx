import { useCallback, useEffect, useState } from "react";
import { api, type Me, type Status } from "../api/client";
import { Fact, Flag, Link, Notice, Online, Section } from "../components/ui";
import { Table, type Column } from "../components/Table";
import { DeviceCharts } from "../components/DeviceCharts";
import { DeviceConfig } from "../components/DeviceConfig";
import { CommandHistory } from "../components/CommandHistory";
import { ago, num, when } from "../lib/format";
import { CONFIG_READ, DEVICES_COMMAND, TELEMETRY_READ, can } from "../lib/perms";
import { describe } from "../lib/problems";

const REFRESH_MS = 5_000;

export function DevicePage({ uuid, me }: { uuid: string; me: Me }) {
  const [status, setStatus] = useState<Status | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [changed, setChanged] = useState(0); // bumps when a command of ours moves on

  const load = useCallback(async () => {
    const { data, error: err, response } = await api.GET("/api/devices/{device_uuid}/status", {
      params: { path: { device_uuid: uuid } },
    });
    if (data) {
      setStatus(data);
      setError(null);
    } else setError(describe(response.status, err));
  }, [uuid]);

  useEffect(() => {
    void load();
    const timer = window.setInterval(() => document.visibilityState === "visible" && void load(), REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [load, changed]);

  const mayCommand = can(me, DEVICES_COMMAND);
  const onCommand = useCallback(() => setChanged((n) => n + 1), []);

  return (
    <>
      <p className="crumbs">
        <Link to="/">Fleet</Link> / <span>{uuid}</span>
      </p>
      <h1>{uuid}</h1>
      {error && <Notice kind="error">{error}</Notice>}
      {status && (
        <Section title="Status">
          <dl className="facts" data-testid="device-status">
            <Fact term="State">
              <Online online={status.online} /> <span className="muted">since {when(status.since)}</span>
            </Fact>
            <Fact term="Last seen" title={when(status.last_seen)}>
              {ago(status.last_seen)}
            </Fact>
            <Fact term="Firmware">{status.firmware_version ?? "—"}</Fact>
            <Fact term="MQTT">
              <Flag value={status.mqtt_status} label="MQTT" />
            </Fact>
            <Fact term="SFTP">
              <Flag value={status.sftp_status} label="SFTP" />
            </Fact>
            <Fact term="Pending commands">
              {status.pending_commands.length ? status.pending_commands.map((c) => `${c.type} (${c.status})`).join(", ") : "none"}
            </Fact>
          </dl>
        </Section>
      )}
      {status && <Readings status={status} />}
      {can(me, TELEMETRY_READ) && <DeviceCharts uuid={uuid} />}
      {can(me, CONFIG_READ) && <DeviceConfig uuid={uuid} mayCommand={mayCommand} onCommand={onCommand} changed={changed} />}
      <CommandHistory uuid={uuid} mayCommand={mayCommand} changed={changed} onChange={onCommand} />
    </>
  );
}

type Reading = Status["latest"][number] & Record<string, unknown>;

const READINGS: Column<Reading>[] = [
  { title: "Channel", rowHeader: true, cell: (r) => String(r.channel_id) },
  { title: "Phase", cell: (r) => r.phase ?? "—" },
  { title: "Voltage", cell: (r) => num(r.line_voltage, 1, "V") },
  { title: "Current", cell: (r) => num(r.current, 2, "A") },
  { title: "Active power", cell: (r) => num(r.active_power, 0, "W") },
  { title: "Reactive power", cell: (r) => num(r.reactive_power, 0, "var") },
  { title: "Temperature", cell: (r) => num(r.temperature, 1, "°C") },
  { title: "At", cell: (r) => ago(typeof r.timestamp === "string" ? r.timestamp : null) },
];

function Readings({ status }: { status: Status }) {
  const rows = status.latest as Reading[];
  return (
    <Section title="Latest readings">
      {rows.length === 0 ? (
        <p className="muted">No readings yet.</p>
      ) : (
        <Table label="Latest readings per channel and phase" columns={READINGS} rows={rows} rowKey={(r) => `${r.channel_id}:${r.phase}`} />
      )}
    </Section>
  );
}
