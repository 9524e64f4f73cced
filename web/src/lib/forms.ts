// Command forms: which fields each command type has, and the request body built from inputs.
export type ConfigKind = "ntp" | "mqtt" | "sftp";

export interface FieldSpec {
  name: string;
  label: string;
  kind: "text" | "number" | "secret";
  required: boolean;
}

const field = (name: string, label: string, kind: FieldSpec["kind"] = "text", required = true): FieldSpec => ({ name, label, kind, required });

/** Where a meter sends its data (the MQTT broker, the SFTP server): host, port, user, password
 * and the data interval, each required; what differs is the fields' names and the word before. */
function destination(what: string, host: string, port: string, user: string, password: string): FieldSpec[] {
  return [
    field(host, `${what} host`),
    field(port, `${what} port`, "number"),
    field(user, `${what} user`),
    field(password, `${what} password`, "secret"),
    field("data_interval", "Data interval (s)", "number"),
  ];
}

export const FORMS: Record<ConfigKind, FieldSpec[]> = {
  ntp: [field("server_1", "NTP server 1"), field("server_2", "NTP server 2", "text", false), field("server_3", "NTP server 3", "text", false)],
  mqtt: destination("Broker", "broker_ip", "broker_port", "broker_user", "broker_password"),
  sftp: destination("SFTP", "server_ip", "server_port", "username", "password"),
};

/** The JSON body: blanks left out, numbers as numbers (anything else is passed on for the
 * API to judge, so its message names the field). */
export function commandBody(kind: ConfigKind, values: Record<string, string>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const f of FORMS[kind]) {
    const raw = (values[f.name] ?? "").trim();
    if (raw === "" && f.kind !== "secret") continue;
    if (f.kind === "secret") {
      if (values[f.name]) body[f.name] = values[f.name];
      continue;
    }
    body[f.name] = f.kind === "number" && /^-?\d+$/.test(raw) ? Number(raw) : raw;
  }
  return body;
}

/** What the current configuration shows for a field; secrets only as set / not set. */
export function shownValue(item: Record<string, unknown>, f: FieldSpec): string {
  if (f.kind === "secret") return item[`${f.name}_set`] ? "set (hidden)" : "not set";
  const v = item[f.name];
  return v === null || v === undefined || v === "" ? "—" : String(v);
}

/** Form values that start from the current configuration (never a secret). */
export function initialValues(kind: ConfigKind, item: Record<string, unknown> | null): Record<string, string> {
  const values: Record<string, string> = {};
  for (const f of FORMS[kind]) {
    const v = item?.[f.name];
    values[f.name] = f.kind === "secret" || v === null || v === undefined ? "" : String(v);
  }
  return values;
}
