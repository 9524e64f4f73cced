// Command forms: which fields each command type has, and the request body built from inputs.
export type ConfigKind = "ntp" | "mqtt" | "sftp";

export interface FieldSpec {
  name: string;
  label: string;
  kind: "text" | "number" | "secret";
  required: boolean;
}

export const FORMS: Record<ConfigKind, FieldSpec[]> = {
  ntp: [
    { name: "server_1", label: "NTP server 1", kind: "text", required: true },
    { name: "server_2", label: "NTP server 2", kind: "text", required: false },
    { name: "server_3", label: "NTP server 3", kind: "text", required: false },
  ],
  mqtt: [
    { name: "broker_ip", label: "Broker host", kind: "text", required: true },
    { name: "broker_port", label: "Broker port", kind: "number", required: true },
    { name: "broker_user", label: "Broker user", kind: "text", required: true },
    { name: "broker_password", label: "Broker password", kind: "secret", required: true },
    { name: "data_interval", label: "Data interval (s)", kind: "number", required: true },
  ],
  sftp: [
    { name: "server_ip", label: "SFTP host", kind: "text", required: true },
    { name: "server_port", label: "SFTP port", kind: "number", required: true },
    { name: "username", label: "SFTP user", kind: "text", required: true },
    { name: "password", label: "SFTP password", kind: "secret", required: true },
    { name: "data_interval", label: "Data interval (s)", kind: "number", required: true },
  ],
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
