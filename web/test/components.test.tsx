// The shared table and pager rendered to HTML (react-dom/server: no browser needed).
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { Table, type Column } from "../src/components/Table";
import { PageNav, type CursorPages } from "../src/components/paging";
import { Pager } from "../src/lib/fleet";
import { TextField } from "../src/components/ui";

interface Row {
  name: string;
  size?: number;
}

const COLUMNS: Column<Row>[] = [
  { title: "Name", rowHeader: true, cell: (r) => r.name },
  { title: "Size", cell: (r) => r.size ?? "—" },
];

const table = (rows: Row[] | null, more: Partial<Parameters<typeof Table<Row>>[0]> = {}) =>
  renderToStaticMarkup(<Table label="Things" columns={COLUMNS} rows={rows} rowKey={(r) => r.name} loading="Loading…" empty="Nothing." {...more} />);

describe("Table", () => {
  it("heads its columns and names each value for the phone layout", () => {
    expect(table([{ name: "a", size: 3 }, { name: "b" }])).toBe(
      '<div class="table-wrap"><table aria-label="Things"><thead><tr><th scope="col">Name</th><th scope="col">Size</th></tr></thead>' +
        '<tbody><tr><th scope="row" data-label="Name">a</th><td data-label="Size">3</td></tr>' +
        '<tr><th scope="row" data-label="Name">b</th><td data-label="Size">—</td></tr></tbody></table></div>',
    );
  });
  it("says when rows are loading and when there are none, across every column", () => {
    expect(table(null)).toContain('<tbody><tr><td colSpan="2">Loading…</td></tr></tbody>');
    expect(table([])).toContain('<tbody><tr><td colSpan="2">Nothing.</td></tr></tbody>');
    expect(table(null, { loading: undefined })).toContain("<tbody></tbody>");
  });
  it("stays a plain table when it is not to become cards", () => {
    const html = table([{ name: "a" }], { cards: false, className: "small" });
    expect(html.startsWith('<table class="small" aria-label="Things">')).toBe(true);
    expect(html).not.toContain("data-label");
  });
});

describe("PageNav", () => {
  const pages = (pager: Pager, next: string | null): CursorPages<unknown> => ({
    items: [],
    next,
    error: null,
    updated: null,
    pager,
    load: async () => {},
    first: () => {},
    previous: () => {},
    following: () => {},
  });
  const buttons = (html: string) => [...html.matchAll(/<button[^>]*?( disabled="")?>(\w+)</g)].map((m) => `${m[2]}${m[1] ? " (disabled)" : ""}`);

  it("offers only the way back on the last page, only the way on on the first", () => {
    const pager = new Pager();
    expect(buttons(renderToStaticMarkup(<PageNav pages={pages(pager, "c2")} previous="Newer" next="Older" />))).toEqual(["Newer (disabled)", "Older"]);
    pager.next("c2");
    const html = renderToStaticMarkup(<PageNav pages={pages(pager, null)} previous="Newer" next="Older" />);
    expect(buttons(html)).toEqual(["Newer", "Older (disabled)"]);
    expect(html).toContain("<span>Page 2</span>");
  });
});

describe("TextField", () => {
  const field = (error?: string, type?: "password") =>
    renderToStaticMarkup(<TextField id="f-x" name="x" label="X" error={error} type={type} value="v" onChange={() => {}} />);

  it("ties the field's error to its input", () => {
    const html = field("must be a host name");
    expect(html).toContain('aria-invalid="true"');
    expect(html).toContain('aria-describedby="f-x-error"');
    expect(html).toContain('<small id="f-x-error" class="error" role="alert">must be a host name</small>');
    expect(field()).not.toContain("aria-invalid");
  });
  it("offers no saved password", () => {
    expect(field(undefined, "password")).toContain('autoComplete="new-password"');
    expect(field()).toContain('autoComplete="off"');
  });
});
