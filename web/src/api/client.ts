// The typed API client: paths and models generated from /api/openapi.json (scripts/gen-api.mjs).
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";
import { Session } from "./session";

export type Schemas = components["schemas"];
export type Me = Schemas["MeOut"];
export type Device = Schemas["DeviceOut"] & {
  device_imei?: string;
  firmware_version?: string | null;
  mqtt_status?: boolean | null;
  sftp_status?: boolean | null;
  last_seen?: string | null;
};
export type Status = Schemas["DeviceStatus"];
export type Command = Schemas["CommandOut"];
export type ConfigItem = Schemas["ConfigItem"] & Record<string, unknown>;

const origin = typeof window === "undefined" ? "http://localhost" : window.location.origin;

export const session = new Session(origin, window.sessionStorage);
export const api = createClient<paths>({ baseUrl: origin, fetch: session.fetch });

/** The provisioner's admin API (not in the API's document): same origin, same token. */
export async function provisioning(path: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const resp = await session.fetch(new Request(`${origin}/api/provisioning/${path}`, init));
  const text = await resp.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { detail: text.slice(0, 200) };
  }
  return { status: resp.status, body };
}
