import { useCallback, useEffect, useState } from "react";
import { api, type Command } from "../api/client";
import { Notice, Section, State } from "./ui";
import { Table, type Column } from "./Table";
import { cancellable, isFinal } from "../lib/commands";
import { when } from "../lib/format";
import { describe } from "../lib/problems";

interface Props {
  uuid: string;
  mayCommand: boolean;
  changed: number;
  onChange: () => void;
}

const TRANSITIONS: Column<Command["history"][number]>[] = [
  { title: "State", cell: (h) => <State status={h.status} /> },
  { title: "At", cell: (h) => when(h.at) },
  { title: "Reason", cell: (h) => h.reason ?? "" },
];

export function CommandHistory({ uuid, mayCommand, changed, onChange }: Props) {
  const [items, setItems] = useState<Command[] | null>(null);
  const [more, setMore] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const { data, error: err, response } = await api.GET("/api/devices/{device_uuid}/commands", {
      params: { path: { device_uuid: uuid }, query: { limit: 20 } },
    });
    if (data) {
      setItems(data.items);
      setMore(data.next_cursor);
    } else setError(describe(response.status, err));
  }, [uuid]);

  useEffect(() => {
    void load();
  }, [load, changed]);

  // While anything is in flight, follow it live.
  useEffect(() => {
    if (!items?.some((c) => !isFinal(c.status))) return;
    const timer = window.setInterval(() => void load(), 2000);
    return () => window.clearInterval(timer);
  }, [items, load]);

  async function loadMore() {
    if (!more) return;
    const { data } = await api.GET("/api/devices/{device_uuid}/commands", {
      params: { path: { device_uuid: uuid }, query: { limit: 20, cursor: more } },
    });
    if (data) {
      setItems((old) => [...(old ?? []), ...data.items]);
      setMore(data.next_cursor);
    }
  }

  async function cancel(id: string) {
    const { error: err, response } = await api.POST("/api/commands/{command_id}/cancel", { params: { path: { command_id: id } } });
    if (!response.ok) setError(describe(response.status, err));
    onChange();
  }

  return (
    <Section title="Command history">
      {error && <Notice kind="error">{error}</Notice>}
      {items?.length === 0 && <p className="muted">No commands yet.</p>}
      <ol className="history" data-testid="command-history">
        {items?.map((c) => (
          <li key={c.command_id}>
            <details>
              <summary>
                <strong>{c.type}</strong> <State status={c.status} /> <span className="muted">{when(c.created_at)}</span>
              </summary>
              <p className="muted">
                id <code>{c.command_id}</code> · expires {when(c.expires_at)}
              </p>
              {Object.keys(c.params).length > 0 && (
                <p>
                  parameters:{" "}
                  {Object.entries(c.params)
                    .filter(([k]) => !/password|secret/i.test(k) || k.endsWith("_set"))
                    .map(([k, v]) => `${k}=${String(v)}`)
                    .join(", ")}
                </p>
              )}
              <Table label={`Transitions of ${c.type} command`} columns={TRANSITIONS} rows={c.history} rowKey={(_h, i) => i} cards={false} />
            </details>
            {mayCommand && cancellable(c.status) && (
              <button type="button" className="small" onClick={() => void cancel(c.command_id)}>
                Cancel {c.type}
              </button>
            )}
          </li>
        ))}
      </ol>
      {more && (
        <button type="button" onClick={() => void loadMore()}>
          Older commands
        </button>
      )}
    </Section>
  );
}
