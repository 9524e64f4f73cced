// A list the API serves in cursor pages (GET …?cursor=): the page on screen, the way back and
// forward, and the buttons that move between pages.
import { useCallback, useRef, useState } from "react";
import { Pager, type Page } from "../lib/fleet";
import { describe } from "../lib/problems";

/** What an api.GET answers: the page, or the error and the response that carried it. */
export interface Fetched<P> {
  data?: P;
  error?: unknown;
  response: Response;
}

export interface CursorPages<T> {
  items: T[] | null; // null until the first page came
  next: string | null; // the cursor of the page after this one
  error: string | null;
  updated: number | null; // when a page last came (ms since the epoch)
  pager: Pager;
  /** Loads the page the pager points at (again). */
  load: () => Promise<void>;
  first: () => void;
  previous: () => void;
  following: () => void;
}

/** fetchPage: one page from its cursor (undefined: the first); a new function reloads nothing
 * by itself, it only changes what the next load asks for. */
export function useCursorPages<T>(fetchPage: (cursor: string | undefined) => Promise<Fetched<Page<T>>>): CursorPages<T> {
  const pager = useRef(new Pager()).current;
  const [items, setItems] = useState<T[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [updated, setUpdated] = useState<number | null>(null);
  const [, bump] = useState(0);

  const load = useCallback(async () => {
    const { data, error: err, response } = await fetchPage(pager.cursor ?? undefined);
    if (!data) {
      setError(describe(response.status, err));
      return;
    }
    setError(null);
    setItems(data.items);
    setNext(data.next_cursor);
    setUpdated(Date.now());
  }, [fetchPage, pager]);

  const go = (move: () => void) => {
    move();
    bump((n) => n + 1); // the page number moves at once, the rows when they come
    void load();
  };

  return {
    items,
    next,
    error,
    updated,
    pager,
    load,
    first: () => go(() => pager.reset()),
    previous: () => go(() => pager.previous()),
    following: () => next && go(() => pager.next(next)),
  };
}

export function PageNav({ pages, previous, next }: { pages: CursorPages<unknown>; previous: string; next: string }) {
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" disabled={!pages.pager.hasPrevious} onClick={pages.previous}>
        {previous}
      </button>
      <span>Page {pages.pager.page}</span>
      <button type="button" disabled={!pages.next} onClick={pages.following}>
        {next}
      </button>
    </nav>
  );
}
