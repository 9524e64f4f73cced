import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { api, type Me, type Schemas } from "../api/client";
import { Notice } from "../components/ui";
import { Pager } from "../lib/fleet";
import { when } from "../lib/format";
import { describe } from "../lib/problems";

type Entry = Schemas["AuditEntry"];

export function Audit({ me: _me }: { me: Me }) {
  const [actor, setActor] = useState("");
  const [action, setAction] = useState("");
  const [items, setItems] = useState<Entry[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const pager = useRef(new Pager());

  const load = useCallback(async () => {
    const { data, error: err, response } = await api.GET("/api/audit", {
      params: { query: { limit: 50, cursor: pager.current.cursor ?? undefined, actor: actor.trim() || undefined, action: action.trim() || undefined } },
    });
    if (data) {
      setItems(data.items);
      setNext(data.next_cursor);
      setError(null);
    } else setError(describe(response.status, err));
  }, [actor, action]);

  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  function search(e: FormEvent) {
    e.preventDefault();
    pager.current.reset();
    void load();
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
      {error && <Notice kind="error">{error}</Notice>}
      <div className="table-wrap">
        <table aria-label="Audit entries, newest first">
          <thead>
            <tr>
              <th scope="col">At</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Result</th>
              <th scope="col">From</th>
            </tr>
          </thead>
          <tbody>
            {items?.map((e, i) => (
              <tr key={`${e.at}-${i}`}>
                <td data-label="At">{when(e.at)}</td>
                <td data-label="Actor">{e.actor ?? "—"}</td>
                <td data-label="Action">{e.action}</td>
                <td data-label="Target">{e.target ?? "—"}</td>
                <td data-label="Result">
                  <span className={`badge ${e.result === "ok" ? "ok" : "bad"}`}>
                    {e.result}
                    {typeof e.status === "number" ? ` (${e.status})` : ""}
                  </span>
                </td>
                <td data-label="From">{e.ip ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <nav className="pager" aria-label="Pages">
        <button type="button" disabled={!pager.current.hasPrevious} onClick={() => { pager.current.previous(); void load(); }}>
          Newer
        </button>
        <span>Page {pager.current.page}</span>
        <button type="button" disabled={!next} onClick={() => { if (next) { pager.current.next(next); void load(); } }}>
          Older
        </button>
      </nav>
    </>
  );
}
