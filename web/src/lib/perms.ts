// What the signed-in user may do: the API's permission names (GET /api/auth/me).
export const DEVICES_COMMAND = "devices:command";
export const DEVICES_MANAGE = "devices:manage";
export const USERS_MANAGE = "users:manage";
export const ROLES_MANAGE = "roles:manage";
export const AUDIT_READ = "audit:read";
export const TELEMETRY_READ = "telemetry:read";
export const CONFIG_READ = "config:read";

export interface Holder {
  permissions: readonly string[];
}

export const can = (who: Holder | null | undefined, permission: string): boolean =>
  !!who && who.permissions.includes(permission);
