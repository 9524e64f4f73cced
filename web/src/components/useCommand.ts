// Send a command and follow it live (GET /api/commands/{id} until it is final).
import { useCallback, useEffect, useRef, useState } from "react";
import { api, type Command } from "../api/client";
import { follow } from "../lib/commands";
import { formErrors, type FormErrors } from "../lib/problems";

export type Kind = "reboot" | "ntp" | "mqtt" | "sftp";

/** A fresh key per request (getRandomValues also works outside secure contexts, unlike randomUUID). */
function idempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function useCommand(uuid: string, kind: Kind, onMove: () => void) {
  const [command, setCommand] = useState<Command | null>(null);
  const [errors, setErrors] = useState<FormErrors>({ form: null, fields: {} });
  const [busy, setBusy] = useState(false);
  const stop = useRef({ aborted: false });

  useEffect(() => {
    const flag = { aborted: false };
    stop.current = flag;
    return () => {
      flag.aborted = true;
    };
  }, [uuid]);

  const send = useCallback(
    async (body: Record<string, unknown>, known: readonly string[] = []) => {
      setBusy(true);
      setErrors({ form: null, fields: {} });
      const path = `/api/devices/{device_uuid}/${kind}` as "/api/devices/{device_uuid}/reboot";
      const { data, error, response } = await api.POST(path, {
        params: { path: { device_uuid: uuid } },
        body: body as never,
        headers: { "Idempotency-Key": idempotencyKey() },
      });
      setBusy(false);
      if (!data) {
        setErrors(response.status === 403 ? { form: "You may not send commands.", fields: {} } : formErrors(error, known));
        return;
      }
      setCommand(data);
      onMove();
      const last = await follow(
        async () => {
          const got = await api.GET("/api/commands/{command_id}", { params: { path: { command_id: data.command_id } } });
          return got.data ?? data;
        },
        (c) => setCommand(c),
        { intervalMs: 1000, signal: stop.current },
      );
      if (!stop.current.aborted) {
        setCommand(last);
        onMove();
      }
    },
    [uuid, kind, onMove],
  );

  return { command, errors, busy, send };
}
