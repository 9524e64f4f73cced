import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, type Me, type Schemas } from "../api/client";
import { Notice } from "../components/ui";
import { PageNav, useCursorPages } from "../components/paging";
import { Table, type Column } from "../components/Table";
import { when } from "../lib/format";

type Entry = Schemas["AuditEntry"];

const COLUMNS: Column<Entry>[] = [
  { title: "At", cell: (e) => when(e.at) },
  { title: "Actor", cell: (e) => e.actor ?? "—" },
  { title: "Action", cell: (e) => e.action },
  { title: "Target", cell: (e) => e.target ?? "—" },
  {
    title: "Result",
    cell: (e) => (
      <span className={`badge ${e.result === "ok" ? "ok" : "bad"}`}>
        {e.result}
        {typeof e.status === "number" ? ` (${e.status})` : ""}
      </span>
    ),
  },
  { title: "From", cell: (e) => e.ip ?? "—" },
];

export function Audit({ me: _me }: { me: Me }) {
  const [actor, setActor] = useState("");
  const [action, setAction] = useState("");
  const fetchPage = useCallback(
    (cursor: string | undefined) =>
      api.GET("/api/audit", {
        params: { query: { limit: 50, cursor, actor: actor.trim() || undefined, action: action.trim() || undefined } },
      }),
    [actor, action],
  );
  const pages = useCursorPages(fetchPage);

  useEffect(() => {
    void pages.load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  function search(e: FormEvent) {
    e.preventDefault();
    pages.first();
  }

  return (
    <>
      <h1>Audit log</h1>
      <form className="toolbar" role="search" onSubmit={search}>
        <label htmlFor="au-actor">Actor</label>
        <input id="au-actor" value={actor} onChange={(e) => setActor(e.target.value)} />
        <label htmlFor="au-action">Action</label>
        <input id="au-action" value={action} onChange={(e) => setAction(e.target.value)} placeholder="command.reboot" />
        <button type="submit">Filter</button>
      </form>
      {pages.error && <Notice kind="error">{pages.error}</Notice>}
      <Table label="Audit entries, newest first" columns={COLUMNS} rows={pages.items} rowKey={(e, i) => `${e.at}-${i}`} />
      <PageNav pages={pages} previous="Newer" next="Older" />
    </>
  );
}
