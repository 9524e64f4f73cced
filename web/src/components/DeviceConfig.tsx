import { useEffect, useState, type FormEvent } from "react";
import { api, type ConfigItem } from "../api/client";
import { Fact, Notice, Section, State, TextField } from "./ui";
import { useCommand } from "./useCommand";
import { FORMS, commandBody, initialValues, shownValue, type ConfigKind } from "../lib/forms";
import { ago, when } from "../lib/format";

const KINDS: ConfigKind[] = ["ntp", "mqtt", "sftp"];
const TITLES: Record<ConfigKind, string> = { ntp: "NTP", mqtt: "MQTT", sftp: "SFTP" };

interface Props {
  uuid: string;
  mayCommand: boolean;
  onCommand: () => void;
  changed: number;
}

export function DeviceConfig({ uuid, mayCommand, onCommand, changed }: Props) {
  const [items, setItems] = useState<Partial<Record<ConfigKind, ConfigItem | null>>>({});

  useEffect(() => {
    let stale = false;
    void Promise.all(
      KINDS.map(async (k) => {
        const { data } = await api.GET(`/api/${k}` as "/api/ntp", { params: { query: { device_uuid: uuid } } });
        return [k, (data?.items[0] as ConfigItem | undefined) ?? null] as const;
      }),
    ).then((pairs) => !stale && setItems(Object.fromEntries(pairs)));
    return () => {
      stale = true;
    };
  }, [uuid, changed]);

  return (
    <Section title={mayCommand ? "Configuration and commands" : "Configuration"} id="h-configuration">
      {mayCommand && <Reboot uuid={uuid} onCommand={onCommand} />}
      <div className="configs">
        {KINDS.map((k) => (
          <ConfigCard key={k} uuid={uuid} kind={k} item={items[k] ?? null} mayCommand={mayCommand} onCommand={onCommand} />
        ))}
      </div>
    </Section>
  );
}

function Tracker({ command }: { command: { command_id: string; status: string | null } | null }) {
  if (!command) return null;
  return (
    <p className="tracker" role="status" aria-live="polite" data-testid="command-state">
      Command <code>{command.command_id.slice(0, 8)}</code>: <State status={command.status} />
    </p>
  );
}

function Reboot({ uuid, onCommand }: { uuid: string; onCommand: () => void }) {
  const { command, errors, busy, send } = useCommand(uuid, "reboot", onCommand);
  const [confirming, setConfirming] = useState(false);
  return (
    <div className="reboot">
      {!confirming ? (
        <button type="button" className="danger" onClick={() => setConfirming(true)}>
          Reboot…
        </button>
      ) : (
        <span className="confirm">
          Reboot {uuid}?{" "}
          <button
            type="button"
            className="danger"
            disabled={busy}
            onClick={() => {
              setConfirming(false);
              void send({});
            }}
          >
            Reboot now
          </button>{" "}
          <button type="button" onClick={() => setConfirming(false)}>
            Keep running
          </button>
        </span>
      )}
      {errors.form && <Notice kind="error">{errors.form}</Notice>}
      <Tracker command={command} />
    </div>
  );
}

function ConfigCard({ uuid, kind, item, mayCommand, onCommand }: { uuid: string; kind: ConfigKind; item: ConfigItem | null; mayCommand: boolean; onCommand: () => void }) {
  const fields = FORMS[kind];
  const { command, errors, busy, send } = useCommand(uuid, kind, onCommand);
  const [editing, setEditing] = useState(false);
  const [values, setValues] = useState<Record<string, string>>({});
  const latest = item?.latest_command as { status?: string; created_at?: string } | null | undefined;

  function submit(e: FormEvent) {
    e.preventDefault();
    const body = commandBody(kind, values);
    // Secrets leave the form once sent: they are never kept or shown.
    setValues((v) => Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fields.find((f) => f.name === k)?.kind === "secret" ? "" : x])));
    void send(body, fields.map((f) => f.name));
  }

  return (
    <article className="config" aria-labelledby={`cfg-${kind}`} data-testid={`config-${kind}`}>
      <h3 id={`cfg-${kind}`}>{TITLES[kind]}</h3>
      {item?.configured ? (
        <dl className="facts small">
          {fields.map((f) => (
            <Fact key={f.name} term={f.label} field={f.name}>
              {shownValue(item, f)}
            </Fact>
          ))}
          <Fact term="Applied" title={when(item.updated_at)}>
            {ago(item.updated_at)}
          </Fact>
        </dl>
      ) : (
        <p className="muted">Not configured through MSM yet.</p>
      )}
      {latest?.status && (
        <p>
          Latest {kind} command: <State status={latest.status} /> <span className="muted">{ago(latest.created_at)}</span>
        </p>
      )}
      {mayCommand && !editing && (
        <button
          type="button"
          onClick={() => {
            setValues(initialValues(kind, item));
            setEditing(true);
          }}
        >
          Set {TITLES[kind]}…
        </button>
      )}
      {mayCommand && editing && (
        <form onSubmit={submit} noValidate aria-label={`Set ${TITLES[kind]}`}>
          {fields.map((f) => (
            <TextField
              key={f.name}
              id={`${kind}-${f.name}`}
              name={f.name}
              label={f.label}
              error={errors.fields[f.name]}
              type={f.kind === "secret" ? "password" : "text"}
              inputMode={f.kind === "number" ? "numeric" : undefined}
              value={values[f.name] ?? ""}
              onChange={(x) => setValues((v) => ({ ...v, [f.name]: x }))}
            />
          ))}
          {errors.form && <Notice kind="error">{errors.form}</Notice>}
          <div className="buttons">
            <button type="submit" disabled={busy}>
              Send {TITLES[kind]} command
            </button>
            <button type="button" onClick={() => setEditing(false)}>
              Close
            </button>
          </div>
        </form>
      )}
      <Tracker command={command} />
    </article>
  );
}
