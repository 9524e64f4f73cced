import { useCallback, useEffect, useState } from "react";
import { api, type Me, type Status } from "../api/client";
import { Flag, Link, Notice, Online, Section } from "../components/ui";
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
            <div>
              <dt>State</dt>
              <dd>
                <Online online={status.online} /> <span className="muted">since {when(status.since)}</span>
              </dd>
            </div>
            <div>
              <dt>Last seen</dt>
              <dd title={when(status.last_seen)}>{ago(status.last_seen)}</dd>
            </div>
            <div>
              <dt>Firmware</dt>
              <dd>{status.firmware_version ?? "—"}</dd>
            </div>
            <div>
              <dt>MQTT</dt>
              <dd>
                <Flag value={status.mqtt_status} label="MQTT" />
              </dd>
            </div>
            <div>
              <dt>SFTP</dt>
              <dd>
                <Flag value={status.sftp_status} label="SFTP" />
              </dd>
            </div>
            <div>
              <dt>Pending commands</dt>
              <dd>{status.pending_commands.length ? status.pending_commands.map((c) => `${c.type} (${c.status})`).join(", ") : "none"}</dd>
            </div>
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

function Readings({ status }: { status: Status }) {
  const rows = status.latest as (Status["latest"][number] & Record<string, unknown>)[];
  return (
    <Section title="Latest readings">
      {rows.length === 0 ? (
        <p className="muted">No readings yet.</p>
      ) : (
        <div className="table-wrap">
          <table aria-label="Latest readings per channel and phase">
            <thead>
              <tr>
                <th scope="col">Channel</th>
                <th scope="col">Phase</th>
                <th scope="col">Voltage</th>
                <th scope="col">Current</th>
                <th scope="col">Active power</th>
                <th scope="col">Reactive power</th>
                <th scope="col">Temperature</th>
                <th scope="col">At</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={`${r.channel_id}:${r.phase}`}>
                  <th scope="row" data-label="Channel">{String(r.channel_id)}</th>
                  <td data-label="Phase">{r.phase ?? "—"}</td>
                  <td data-label="Voltage">{num(r.line_voltage, 1, "V")}</td>
                  <td data-label="Current">{num(r.current, 2, "A")}</td>
                  <td data-label="Active power">{num(r.active_power, 0, "W")}</td>
                  <td data-label="Reactive power">{num(r.reactive_power, 0, "var")}</td>
                  <td data-label="Temperature">{num(r.temperature, 1, "°C")}</td>
                  <td data-label="At">{ago(typeof r.timestamp === "string" ? r.timestamp : null)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}
