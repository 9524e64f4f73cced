// The console's tables: a heading row from the columns, a row an item; below 640 px the
// stylesheet turns each row into a card that shows every value beside its column's name.
import type { ReactNode } from "react";

export interface Column<T> {
  /** The column's heading, also the name a phone shows beside each value. */
  title: string;
  cell: (row: T) => ReactNode;
  /** The cell names its row (<th scope="row">). */
  rowHeader?: boolean;
}

interface Props<T> {
  label: string;
  columns: Column<T>[];
  rows: readonly T[] | null | undefined;
  rowKey: (row: T, index: number) => string | number;
  className?: string;
  /** A row spanning the table while rows is null (loading) or empty. */
  loading?: string;
  empty?: string;
  /** false: a plain table that stays a table on phones (no wrapper, no card labels). */
  cards?: boolean;
}

export function Table<T>({ label, columns, rows, rowKey, className, loading, empty, cards = true }: Props<T>) {
  const placeholder = rows == null ? loading : rows.length === 0 ? empty : undefined;
  const dataLabel = (c: Column<T>) => (cards ? c.title : undefined);
  const table = (
    <table className={className} aria-label={label}>
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c.title} scope="col">
              {c.title}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {placeholder && (
          <tr>
            <td colSpan={columns.length}>{placeholder}</td>
          </tr>
        )}
        {rows?.map((r, i) => (
          <tr key={rowKey(r, i)}>
            {columns.map((c) =>
              c.rowHeader ? (
                <th key={c.title} scope="row" data-label={dataLabel(c)}>
                  {c.cell(r)}
                </th>
              ) : (
                <td key={c.title} data-label={dataLabel(c)}>
                  {c.cell(r)}
                </td>
              ),
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
  return cards ? <div className="table-wrap">{table}</div> : table;
}
